"""`SciScoreJudge` against fixtures written by Science-T2I's own code.

tests/fixtures/official/science_t2i/ comes from tools/official/science_t2i/make_fixtures.py: the
official `SciScore.forward` (eval_t2i_with_SciScore.py) and two-way choice (eval_vlm.py) @ 024e5dd,
with transformers 4.50.3's `AutoProcessor` (the official preprocessing), on a tiny random CLIP whose
config and tokenizer files are committed and whose weights both sides fill from the same recipe.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers")

from unigap.judges import _clip  # noqa: E402
from unigap.judges.sciscore import SciScoreJudge, two_way_accuracy  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "official" / "science_t2i"
FIX = json.loads((FIXTURES / "sciscore.json").read_text())


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location(
        "science_make_fixtures", ROOT / "tools" / "official" / "science_t2i" / "make_fixtures.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def judge(tmp_path_factory, generator):
    """The tiny SciScore rebuilt: the committed config/tokenizer files, weights from the recipe."""
    from transformers import CLIPConfig, CLIPModel

    path = tmp_path_factory.mktemp("sciscore") / "m"
    shutil.copytree(FIXTURES / "sciscore_tiny", path)
    model = CLIPModel(CLIPConfig.from_pretrained(path))
    sums = generator.fill_weights(model)
    assert sums.keys() == FIX["weights"]["sums"].keys()
    assert list(sums.values()) == pytest.approx(list(FIX["weights"]["sums"].values()), rel=1e-12, abs=1e-12)
    model.save_pretrained(path)
    return SciScoreJudge(str(path), device="cpu").load()


def image(generator, k):
    from PIL import Image

    w, h = FIX["sizes"][k]
    return Image.fromarray(generator.synthetic_image(w, h, k))


def test_fixture_source_and_coverage():
    assert FIX["source"]["commit"] == "024e5dd0ae00b7429d53cf2ff75aaba9214a3d96"
    assert FIX["source"]["env"]["transformers"] == "4.50.3"
    margins = {((max(w, h) * 224 // min(w, h)) - 224) % 4 for w, h in FIX["sizes"]}
    assert {1, 2, 3} <= margins  # odd margins where flooring and rounding differ, and even ones
    assert len(FIX["sciscore"]) >= 40 and len(FIX["two_way"]) >= 15


def test_tokens_equal_official(judge):
    for prompt, ids in zip(FIX["prompts"], FIX["token_ids"]):
        assert judge.tokenizer(prompt, truncation=True, max_length=77)["input_ids"] == ids


@pytest.mark.parametrize("k", range(len(FIX["sizes"])), ids=[f"{w}x{h}" for w, h in FIX["sizes"]])
def test_crop_equals_official_processor(generator, k):
    crop = next(c["crop"] for c in FIX["sciscore"] if c["image"][2] == k)
    pix = _clip.clip_pixels([image(generator, k)], 224, style="hf")[0].numpy()
    assert generator.pixel_checksum(pix, _clip.OPENAI_CLIP_MEAN, _clip.OPENAI_CLIP_STD) == crop


def test_sciscore_equals_official(judge, generator):
    for case in FIX["sciscore"]:
        ours = judge.scores([image(generator, case["image"][2])], [FIX["prompts"][case["prompt"]]])[0]
        assert ours == pytest.approx(case["sciscore"], abs=2e-5), case


def test_judge_scores_arrays_as_official(judge, generator):
    """The judge's path (uint8 arrays -> PIL) gives the official score too."""
    import torch

    from unigap.records import Prompt

    case = next(c for c in FIX["sciscore"] if c["image"][2] == 4)
    arr = torch.from_numpy(np.array(image(generator, 4)))[None]
    j = judge.judge(arr, [Prompt("s/0", FIX["prompts"][case["prompt"]], "physics", "eval", "science-t2i")])[0]
    assert j.score == pytest.approx(case["sciscore"], abs=2e-5)


def test_two_way_equals_official(judge, generator):
    for case in FIX["two_way"]:
        a, b = case["images"]
        ours = judge.two_way(FIX["prompts"][case["prompt"]], [image(generator, a), image(generator, b)])
        assert ours == pytest.approx(case["probs"], abs=1e-6), case
        assert (ours[0] > ours[1]) == (case["probs"][0] > case["probs"][1])


def test_two_way_accuracy_equals_official():
    for case in FIX["accuracy"]:
        ours = two_way_accuracy(case["probs"], case["categories"], case["laws"])
        assert ours == {k: case[k] for k in ("overall_accuracy", "category_accuracy", "law_accuracy")}
