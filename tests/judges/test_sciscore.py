"""`SciScoreJudge` on a tiny random CLIP saved offline: the score is logit_scale.exp() x cosine against
the implicit prompt; the contrast rule compares the explicit and superficial prompts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from tests.judges._scorer_tiny import save_clip  # noqa: E402
from unigap.errors import UnigapError  # noqa: E402
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
    return [Prompt(f"science-t2i/eval/{i:04d}", t, "physics", "eval", "science-t2i", band="hard", metadata=meta)
            for i, t in enumerate(["a red apple", "two dogs", "a glass bottle"])]


def images(n=3):
    return torch.from_numpy(np.random.default_rng(0).integers(0, 256, (n, 40, 30, 3), dtype=np.uint8))


def test_score_is_scaled_cosine_against_the_implicit_prompt(path):
    judge = load_judge(JudgeConfig(name="sciscore", options={"path": path, "device": "cpu", "batch_size": 2}))
    js = judge.judge(images(), prompts())
    model, tok = judge.model, judge.tokenizer
    from PIL import Image

    with torch.no_grad():
        img = _clip._tensor(model.get_image_features(pixel_values=_clip.clip_pixels(
            [Image.fromarray(im) for im in images().numpy()], 32)))
        txt = _clip._tensor(model.get_text_features(**tok([p.text for p in prompts()], padding=True,
                                                          return_tensors="pt")))
    expected = torch.cosine_similarity(img, txt) * model.logit_scale.exp()
    assert [j.score for j in js] == pytest.approx(expected.tolist(), abs=1e-4)
    for j in js:
        raw = json.loads(j.raw)
        assert raw["rule"] == "contrast" and j.verdict == int(raw["explicit"] > raw["superficial"])


def test_threshold_rule_and_fallback(path):
    judge = SciScoreJudge(path, device="cpu", rule="threshold", threshold=0.0)
    js = judge.judge(images(), prompts())
    assert all(j.verdict == int(j.score >= 0.0) and json.loads(j.raw)["rule"] == "threshold" for j in js)
    js = SciScoreJudge(path, device="cpu", threshold=1e9).judge(images(), prompts(with_contrast=False))
    assert all(j.verdict == 0 and json.loads(j.raw)["rule"] == "threshold" for j in js)  # no prompts to contrast


def test_bad_rule_missing_model_and_not_clip(path, tmp_path):
    with pytest.raises(UnigapError, match="rule"):
        SciScoreJudge(path, rule="vote")
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
