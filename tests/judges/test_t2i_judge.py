"""`T2ICompBenchJudge` end to end on tiny random BLIP-VQA, CLIP, OWLv2 and DPT models saved offline."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from tests.judges._scorer_tiny import save_blip, save_clip, save_dpt, save_owlv2  # noqa: E402
from unigap.errors import UnigapError  # noqa: E402
from unigap.judges import _clip  # noqa: E402
from unigap.judges.t2i_compbench import rules  # noqa: E402
from unigap.judges.t2i_compbench.judge import T2ICompBenchJudge  # noqa: E402
from unigap.records import Prompt  # noqa: E402

TEXTS = {
    "color": "a green bench and a blue bowl",
    "texture": "a plastic toy and a glass bottle",
    "non_spatial": "a person is looking at a rainbow",
    "spatial": "a giraffe next to a lamp",
    "3d_spatial": "a dog in front of a desk",
    "numeracy": "two dogs and three cats",
    "complex": "The red hat was on top of the brown coat rack.",
}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    root = tmp_path_factory.mktemp("t2i")
    return dict(
        blip=str(save_blip(root / "blip")),
        clip=str(save_clip(root / "clip")),
        detector=str(save_owlv2(root / "owl")),
        depth=str(save_dpt(root / "dpt")),
    )


@pytest.fixture(scope="module")
def judge(paths, tmp_path_factory):
    spatial = tmp_path_factory.mktemp("lists") / "complex_val_spatial.txt"
    spatial.write_text("The red hat was on top of the brown coat rack.\n")
    return T2ICompBenchJudge(
        **paths,
        device="cpu",
        batch_size=4,
        blip_image_size=48,
        depth_image_size=32,
        detector_threshold=0.0,
        complex_spatial_file=str(spatial),
    )


def data(n=None, seed=0):
    ps = [
        Prompt(f"t2i-compbench/{c}_val/{i:04d}", t, c, "eval", "t2i-compbench")
        for i, (c, t) in enumerate(list(TEXTS.items())[:n])
    ]
    ims = torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (len(ps), 40, 56, 3), dtype=np.uint8))
    return ims, ps


@pytest.fixture(scope="module")
def judged(judge):
    ims, ps = data()
    return ims, ps, judge.judge(ims, ps)


def test_every_category_scored(judged, judge):
    _, ps, js = judged
    for p, j in zip(ps, js):
        assert j.status == "ok", (p.subtask, j.error)
        raw = json.loads(j.raw)
        assert raw["score"] == pytest.approx(j.score, abs=1e-6)
        assert j.verdict == int(j.score >= judge.thresholds[raw["metric"]])
    by = {p.subtask: (j, json.loads(j.raw)) for p, j in zip(ps, js)}
    assert [ph for ph, _ in by["color"][1]["phrases"]] == ["a green bench", "a blue bowl"]
    assert by["numeracy"][1]["requests"] == [["dog", 2], ["cat", 3]]
    assert by["complex"][1]["kind"] == "spatial"  # listed in complex_val_spatial.txt
    c = by["complex"][1]
    assert by["complex"][0].score == pytest.approx((c["spatial"] + c["attribute"]) / 2)
    assert 0 <= by["spatial"][0].score <= 1 and 0 <= by["numeracy"][0].score <= 1


def test_blip_score_is_the_product_of_the_phrase_probabilities(judged):
    _, ps, js = judged
    raw = json.loads(js[0].raw)
    assert js[0].score == rules.blip_vqa_score([p for _, p in raw["phrases"]])
    assert all(0 < p < 1 for _, p in raw["phrases"])


def test_a_repeated_phrase_is_asked_and_multiplied_twice(judge):
    """BLIP_vqa.py multiplies every noun-phrase occurrence (issue 22: "... a white goat and a white goat ...")."""
    ims, _ = data(1)
    p = Prompt("t2i-compbench/color_val/0270", "a white goat and a white goat", "color", "eval", "t2i-compbench")
    j = judge.judge(ims, [p])[0]
    phrases = json.loads(j.raw)["phrases"]
    assert [ph for ph, _ in phrases] == ["a white goat", "a white goat"] and phrases[0][1] == phrases[1][1]
    assert j.score == rules.blip_vqa_score([phrases[0][1]] * 2) != rules.blip_vqa_score([phrases[0][1]])


def test_complex_weighs_by_the_official_lists_by_default(paths):
    """No list files: 3_in_1.py's complex_val_{spatial,action} membership, shipped hashed."""
    j = T2ICompBenchJudge(**paths, device="cpu")
    assert j.complex_lists is None
    assert rules.complex_kind("The red hat was on top of the brown coat rack.") == "spatial"  # val_spatial line 1
    assert rules.complex_kind("A zebra juggled three violins.") == "both"  # in neither list
    assert rules.complex_kind("A zebra juggled three violins.", (set(), {"a zebra juggled three violins"})) == "action"


def test_blip_yes_probability_matches_a_manual_forward(judge):
    from PIL import Image

    ims, _ = data(1)
    ((phs, probs),) = judge.blip_vqa(ims.numpy()[:1], ["a green bench"])
    model, tok = judge._load("blip")
    pix = _clip.normalise(
        Image.fromarray(ims.numpy()[0]).resize((48, 48), Image.BICUBIC), _clip.OPENAI_CLIP_MEAN, _clip.OPENAI_CLIP_STD
    )[None]
    q = tok(["a green bench?"], return_tensors="pt")
    q["input_ids"][:, 0] = tok.convert_tokens_to_ids("[ENC]")
    with torch.no_grad():
        emb = model.vision_model(pixel_values=pix, interpolate_pos_encoding=True).last_hidden_state
        st = model.text_encoder(
            input_ids=q["input_ids"], attention_mask=q["attention_mask"], encoder_hidden_states=emb
        ).last_hidden_state
        logits = model.text_decoder(
            input_ids=torch.tensor([[model.config.text_config.bos_token_id]]),
            encoder_hidden_states=st,
            encoder_attention_mask=q["attention_mask"],
        ).logits[0, 0]
    p = torch.softmax(logits, -1)
    yes, no = tok.convert_tokens_to_ids("yes"), tok.convert_tokens_to_ids("no")
    assert phs == ["a green bench"] and probs[0] == pytest.approx((p[yes] / (p[yes] + p[no])).item(), abs=1e-5)


def test_clip_score_is_the_cosine_of_the_model_embeddings(judge, judged):
    ims, ps, js = judged
    k = list(TEXTS).index("non_spatial")
    model, tok = judge._load("clip")
    with torch.no_grad():
        img = model.get_image_features(pixel_values=_clip.clip_pixels([_pil(ims[k])], 32))
        txt = model.get_text_features(**tok([ps[k].text], return_tensors="pt"))
    img, txt = _clip._tensor(img), _clip._tensor(txt)
    assert js[k].score == pytest.approx(torch.cosine_similarity(img, txt).item(), abs=1e-5)


def test_batched_equals_one_by_one(judge, judged):
    ims, ps, js = judged
    for k in (0, 3, 5):
        assert judge.judge(ims[k : k + 1], ps[k : k + 1])[0].score == pytest.approx(js[k].score, abs=1e-5)


def test_detections_in_the_official_frame(judge):
    ims, _ = data(1)
    dets = judge.detect(ims.numpy()[0], ["dog", "cat"])
    fw, fh = rules.detector_frame(56, 40)
    assert dets and all(d["label"] in ("dog", "cat") for d in dets)
    assert all(
        0 <= d["box"][0] <= d["box"][2] <= fw + 1e-4 and 0 <= d["box"][1] <= d["box"][3] <= fh + 1e-4 for d in dets
    )
    assert [d["score"] for d in dets] == sorted((d["score"] for d in dets), reverse=True)
    depth = judge.depth_map(ims.numpy()[0])
    assert depth.shape == (fh, fw) and 0 <= depth.min() and depth.max() <= 1


def test_unknown_category_and_missing_model(judge, paths, tmp_path):
    with pytest.raises(UnigapError, match="unknown categories"):
        judge.check_prompts([Prompt("x", "a dog", "smell", "eval", "t2i-compbench")])
    ims, _ = data(1)
    bad = judge.judge(ims, [Prompt("x", "a dog", "smell", "eval", "t2i-compbench")])
    assert bad[0].status == "failed" and "smell" in bad[0].error
    missing = T2ICompBenchJudge(**{**paths, "blip": str(tmp_path / "none")}, device="cpu")
    js = missing.judge(ims, [Prompt("x", "a red dog", "color", "eval", "t2i-compbench")])
    assert js[0].status == "failed" and "cannot load" in js[0].error


def _pil(t):
    from PIL import Image

    return Image.fromarray(t.numpy())


def test_one_unparsable_prompt_fails_alone(judge):
    ims, _ = data(2)
    ps = [
        Prompt("a", "two dogs", "numeracy", "eval", "t2i-compbench"),
        Prompt("b", "nothing to count here", "numeracy", "eval", "t2i-compbench"),
    ]
    ok, bad = judge.judge(ims, ps)
    assert ok.status == "ok" and bad.status == "failed" and "no counted object" in bad.error


def test_scorer_modules_import_nothing_heavy():
    import subprocess
    import sys

    code = (
        "import sys, unigap.judges.base as b, unigap.judges.geneval, unigap.judges.geneval.options, "
        "unigap.judges.t2i_compbench.options, unigap.judges.t2i_compbench.rules, unigap.judges.t2i_compbench.text, "
        "unigap.judges.sciscore, unigap.judges.scoring, unigap.cli.judge; "
        "[b.JUDGES.options_class(n) for n in ('geneval', 't2i-compbench', 'sciscore')]; "
        "print(any(m.split('.')[0] in ('transformers', 'spacy') for m in sys.modules))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"


def test_missing_transformers_names_the_extra(monkeypatch):
    import importlib

    from unigap.judges import _scorer_hf

    real = importlib.import_module

    def no_transformers(name, *a, **k):
        if name == "transformers":
            raise ImportError("No module named 'transformers'")
        return real(name, *a, **k)

    monkeypatch.setattr(_scorer_hf.importlib, "import_module", no_transformers)
    with pytest.raises(UnigapError, match=r"pip install 'unigap\[hf\]'"):
        T2ICompBenchJudge(device="cpu")._load("clip")


@pytest.mark.parametrize("option", ["complex_spatial_file", "complex_action_file", "objects_file"])
def test_a_missing_list_file_is_a_named_error(tmp_path, option):
    """`--judge t2i-compbench complex_spatial_file=...` with no such file: an error naming the option and the path."""
    from unigap.errors import DataError
    from unigap.judges.base import JudgeConfig, load_judge

    missing = tmp_path / "nowhere.txt"
    with pytest.raises(DataError, match=rf"t2i-compbench judge: {option}: .*nowhere.txt: no such file"):
        T2ICompBenchJudge(**{option: str(missing)})
    with pytest.raises(DataError, match=rf"{option}: .*: a directory, not a file"):
        load_judge(JudgeConfig(name="t2i-compbench", options={option: str(tmp_path)}))
