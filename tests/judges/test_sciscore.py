"""`SciScoreJudge` on a tiny random CLIP saved offline: the score is logit_scale.exp() x cosine against
the implicit prompt; the prompt-contrast rule compares the explicit and superficial prompts; the
two-way rule is Science-T2I's two-way choice against the reference file's superficial image.
(Official parity: test_sciscore_official.py.)"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from tests.judges._scorer_tiny import save_clip  # noqa: E402
from unigap.errors import ConfigError, DataError, UnigapError  # noqa: E402
from unigap.judges import _clip  # noqa: E402
from unigap.judges.base import JudgeConfig, load_judge  # noqa: E402
from unigap.judges.sciscore import SciScoreJudge  # noqa: E402
from unigap.records import Prompt  # noqa: E402


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    return str(save_clip(tmp_path_factory.mktemp("sci") / "m"))


def prompts(with_contrast=True):
    meta = {"explicit_prompt": "a dog is sitting", "superficial_prompt": "a cat"} if with_contrast else {}
    return [
        Prompt(f"science-t2i/eval/{i:04d}", t, "physics", "eval", "science-t2i", band="hard", metadata=meta)
        for i, t in enumerate(["a red apple", "two dogs", "a glass bottle"])
    ]


def images(n=3):
    return torch.from_numpy(np.random.default_rng(0).integers(0, 256, (n, 40, 30, 3), dtype=np.uint8))


def test_score_is_scaled_cosine_against_the_implicit_prompt(path):
    judge = load_judge(JudgeConfig(name="sciscore", options={"path": path, "device": "cpu", "batch_size": 2}))
    js = judge.judge(images(), prompts())
    model, tok = judge.model, judge.tokenizer
    from PIL import Image

    with torch.no_grad():
        img = _clip._tensor(
            model.get_image_features(
                pixel_values=_clip.clip_pixels([Image.fromarray(im) for im in images().numpy()], 32, style="hf")
            )
        )
        txt = _clip._tensor(
            model.get_text_features(**tok([p.text for p in prompts()], padding=True, return_tensors="pt"))
        )
    expected = torch.cosine_similarity(img, txt) * model.logit_scale.exp()
    assert [j.score for j in js] == pytest.approx(expected.tolist(), abs=1e-4)
    for j in js:
        raw = json.loads(j.raw)
        assert raw["rule"] == "prompt_contrast" and j.verdict == int(raw["explicit"] > raw["superficial"])


def test_threshold_rule_and_fallback(path):
    judge = SciScoreJudge(path, device="cpu", rule="threshold", threshold=0.0)
    js = judge.judge(images(), prompts())
    assert all(j.verdict == int(j.score >= 0.0) and json.loads(j.raw)["rule"] == "threshold" for j in js)
    js = SciScoreJudge(path, device="cpu", threshold=1e9).judge(images(), prompts(with_contrast=False))
    assert all(j.verdict == 0 and json.loads(j.raw)["rule"] == "threshold" for j in js)  # no prompts to contrast


def test_the_hyphenated_rule_names_still_work_and_name_the_new_ones(path, tmp_path):
    with pytest.warns(FutureWarning, match="'prompt-contrast' is now 'prompt_contrast'"):
        assert (
            load_judge(JudgeConfig(name="sciscore", options={"path": path, "rule": "prompt-contrast"})).rule
            == "prompt_contrast"
        )
    with (
        pytest.warns(FutureWarning, match="rule 'two-way' is now 'two_way'"),
        pytest.raises(UnigapError, match="rule 'two_way' needs reference"),
    ):
        SciScoreJudge(path, rule="two-way")


def test_bad_rule_missing_model_and_not_clip(path, tmp_path):
    with pytest.raises(UnigapError, match="rule"):
        SciScoreJudge(path, rule="vote")
    with pytest.raises(UnigapError, match="renamed 'prompt_contrast'"):
        SciScoreJudge(path, rule="contrast")
    with pytest.raises(ConfigError, match="renamed 'prompt_contrast'"):
        load_judge(JudgeConfig(name="sciscore", options={"path": path, "rule": "contrast"}))
    with pytest.raises(UnigapError, match="needs reference"):
        SciScoreJudge(path, rule="two_way")
    with pytest.raises(UnigapError, match="cannot load"):
        SciScoreJudge(str(tmp_path / "none"), device="cpu").load()
    from tests.judges._scorer_tiny import save_dpt

    with pytest.raises(UnigapError, match="not a CLIP-style model"):
        SciScoreJudge(str(save_dpt(tmp_path / "dpt")), device="cpu").load()


def test_contrast_scores_match_separate_scoring(path):
    judge = SciScoreJudge(path, device="cpu").load()
    ims = images(1).numpy()
    j = judge.judge(torch.from_numpy(ims), prompts()[:1])[0]
    raw = json.loads(j.raw)
    e, s = judge.scores(np.stack([ims[0], ims[0]]), ["a dog is sitting", "a cat"])
    assert raw["explicit"] == pytest.approx(e, abs=1e-4) and raw["superficial"] == pytest.approx(s, abs=1e-4)


# ---- rule two-way: the official two-way choice against the reference file's superficial image ----


def reference_file(tmp_path, rows):
    """A Science-T2I parquet in the hub layout: image columns are lists of {bytes, path} structs."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    def png(arr):
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="PNG")
        return [{"bytes": buf.getvalue(), "path": None}]

    table = pa.table(
        {
            "implicit_prompt": [r[0] for r in rows],
            "explicit_prompt": ["a dog is sitting"] * len(rows),
            "superficial_prompt": ["a cat"] * len(rows),
            "category": ["Physics"] * len(rows),
            "law": ["Melting"] * len(rows),
            "explicit_image": [png(r[1]) for r in rows],
            "superficial_image": [png(r[1][::-1]) for r in rows],
        }
    )
    path = tmp_path / "Science-T2I-S.parquet"
    pq.write_table(table, path)
    return path


def test_two_way_rule_is_the_official_choice_against_the_superficial_image(path, tmp_path):
    from PIL import Image

    from unigap.prompts.science_t2i import load_science_t2i

    refs = [np.random.default_rng(i).integers(0, 256, (36, 28, 3), dtype=np.uint8) for i in range(3)]
    ref = reference_file(tmp_path, [("a red apple", refs[0]), ("two dogs", refs[1]), ("a glass bottle", refs[2])])
    ps = load_science_t2i(path=ref)
    judge = load_judge(
        JudgeConfig(name="sciscore", options={"path": path, "device": "cpu", "rule": "two_way", "reference": str(ref)})
    )
    judge.check_prompts(ps)
    js = judge.judge(images(), ps)
    for im, p, sup, j in zip(images().numpy(), ps, refs, js):
        raw = json.loads(j.raw)
        probs = judge.two_way(p.text, [Image.fromarray(im), Image.fromarray(sup[::-1])])
        assert raw["rule"] == "two_way" and [raw["p_candidate"], raw["p_superficial"]] == pytest.approx(probs, abs=1e-5)
        assert j.verdict == int(probs[0] > probs[1])
    assert {j.verdict for j in js} <= {0, 1}


def test_two_way_reference_must_match_the_prompts(path, tmp_path):
    ref = reference_file(tmp_path, [("a red apple", np.zeros((8, 8, 3), np.uint8))])
    judge = SciScoreJudge(path, device="cpu", rule="two_way", reference=str(ref))
    with pytest.raises(DataError, match="row 0 has implicit prompt 'a red apple'"):
        judge.check_prompts([Prompt("x", "two dogs", "physics", "eval", "science-t2i", metadata={"row": 0})])
    with pytest.raises(DataError, match="no row 5"):
        judge.check_prompts([Prompt("x", "a red apple", "physics", "eval", "science-t2i", metadata={"row": 5})])
    with pytest.raises(DataError, match="not a parquet file"):
        SciScoreJudge(path, rule="two_way", reference=str(tmp_path / "none.parquet")).check_prompts(prompts())
