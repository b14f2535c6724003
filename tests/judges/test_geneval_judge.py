"""`GenevalJudge` end to end on tiny random Mask2Former + CLIP models saved offline, plus the
mmdet-style pre/post-processing on hand-made tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from tests.judges._scorer_tiny import save_clip, save_mask2former  # noqa: E402
from unigap.errors import DataError, UnigapError  # noqa: E402
from unigap.judges.geneval import decide, select_detections  # noqa: E402
from unigap.judges.geneval.judge import GenevalJudge, detector_inputs, instances, mask_box, rescale_size  # noqa: E402
from unigap.judges.geneval.rules import COLORS, OBJECT_NAMES, colour_requests  # noqa: E402
from unigap.records import Prompt  # noqa: E402


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def judge(tmp_path_factory):
    root = tmp_path_factory.mktemp("geneval")
    det, clip = save_mask2former(root / "m2f"), save_clip(root / "clip")
    # threshold 0 / counting 0 so that the random detector's low scores still produce detections
    return GenevalJudge(
        detector=str(det),
        clip=str(clip),
        device="cpu",
        batch_size=2,
        threshold=0.0,
        counting_threshold=0.0,
        scale=(48, 32),
    )


LINES = [
    {"tag": "single_object", "include": [{"class": "dog", "count": 1}], "prompt": "a photo of a dog"},
    {
        "tag": "counting",
        "include": [{"class": "clock", "count": 2}],
        "exclude": [{"class": "clock", "count": 3}],
        "prompt": "a photo of two clocks",
    },
    {"tag": "colors", "include": [{"class": "car", "count": 1, "color": "red"}], "prompt": "a photo of a red car"},
    {
        "tag": "position",
        "include": [{"class": "cup", "count": 1}, {"class": "dog", "count": 1, "position": ["left of", 0]}],
        "prompt": "a photo of a dog left of a cup",
    },
]


def prompts(lines=LINES):
    return [
        Prompt(f"geneval/{i:05d}", m["prompt"], m["tag"], "eval", "geneval", metadata={"index": i, "geneval": m})
        for i, m in enumerate(lines)
    ]


def images(n, h=50, w=70, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8))


def test_rescale_and_pad_as_mmdet():
    assert rescale_size(512, 512, (1333, 800)) == (800, 800)
    assert rescale_size(1024, 512, (1333, 800)) == (1333, 667)  # min(1333/1024, 800/512) = 1.3018
    pix, sizes = detector_inputs(np.zeros((2, 50, 70, 3), np.uint8), (96, 64), 32)
    # factor min(96/70, 64/50) = 1.28: w = int(89.6 + 0.5) = 90, h = int(64 + 0.5) = 64; padded to 64 x 96
    assert sizes == [(64, 90), (64, 90)] and pix.shape == (2, 3, 64, 96)
    assert (pix[:, :, :, 90:] == 0).all()  # zero padding on the right


def test_instances_hand_made():
    # two queries, 80 classes + no-object; query 0 is "dog" (16) with prob ~1, query 1 no-object
    cls = torch.full((2, 81), -20.0)
    cls[0, OBJECT_NAMES.index("dog")] = 10.0
    cls[1, 80] = 10.0
    masks = torch.full((2, 4, 4), -10.0)
    masks[0, 1:3, 0:2] = 10.0  # rows 1-2, cols 0-1 at 1/1 scale (pad = resized = orig = 4x4)
    out = instances(cls, masks, (4, 4), (4, 4), (4, 4), max_per_image=3)
    dog = out["dog"][0]
    assert dog["box"] == [0.0, 1.0, 2.0, 3.0]  # x1, y1, x2 + 1, y2 + 1
    # class prob ~1 x mean sigmoid(10) inside the mask
    assert dog["score"] == pytest.approx(torch.sigmoid(torch.tensor(10.0)).item(), rel=1e-4)
    assert sum(len(v) for v in out.values()) == 3  # top max_per_image (query, class) pairs
    assert mask_box(torch.zeros(3, 3, dtype=torch.bool)) == [0.0, 0.0, 0.0, 0.0]


@pytest.fixture(scope="module")
def judged(judge):
    ims, ps = images(4, seed=3), prompts()
    return ims, ps, judge.judge(ims, ps)


def test_judge_end_to_end(judged):
    _, _, js = judged
    assert len(js) == 4
    for j in js:
        assert j.status == "ok", j.error
        assert j.verdict in (0, 1) and j.score == float(j.verdict) and j.prob == j.score
    assert js[0].raw in ("", "expected dog>=1, found 0")


def test_judgment_is_decide_on_the_detections(judge, judged):
    ims, ps, js = judged
    raw = judge.detect(ims.numpy())
    for im, p, r, j in zip(ims.numpy(), ps, raw, js):
        for dets in r.values():
            for d in dets:
                x1, y1, x2, y2 = d["box"]
                assert 0 <= x1 <= x2 <= im.shape[1] and 0 <= y1 <= y2 <= im.shape[0] and 0 <= d["score"] <= 1
        meta = p.metadata["geneval"]
        dets = select_detections(r, meta["tag"], threshold=0.0, counting_threshold=0.0)
        judge.classify_colours(im, dets, colour_requests(meta))
        assert (bool(j.verdict), j.raw) == decide(meta, dets)


def test_batched_equals_one_by_one(judge, judged):
    ims, ps, js = judged  # judged two per batch
    single = [(j.verdict, j.raw) for k in (1, 2) for j in judge.judge(ims[k : k + 1], ps[k : k + 1])]
    assert [(j.verdict, j.raw) for j in js[1:3]] == single


def test_colours_only_for_the_most_confident(judge):
    judge.load()
    im = images(1).numpy()[0]
    dets = {
        "car": [
            {"box": [0, 0, 20, 20], "score": 0.9, "mask": None},
            {"box": [5, 5, 30, 30], "score": 0.5, "mask": np.ones(im.shape[:2], bool)},
        ]
    }
    judge.classify_colours(im, dets, {"car": 1})
    assert dets["car"][0]["color"] in COLORS and "color" not in dets["car"][1]
    clf = judge.colour_classifier("car")
    assert clf.shape == (16, 10) and torch.allclose(clf.norm(dim=0), torch.ones(10), atol=1e-5)


def test_odd_sizes_do_not_crash(judge):
    js = judge.judge(images(2, h=37, w=91, seed=1), prompts()[:2])
    assert all(j.status == "ok" for j in js)


def test_bad_metadata_line_is_named(judge):
    bad = dict(LINES[0], include=[{"class": "unicorn", "count": 1}])
    with pytest.raises(DataError, match="line 1 .*unicorn"):
        judge.check_prompts(prompts([bad]))
    js = judge.judge(images(1), prompts([bad]))  # inside a run: that item fails, with the reason
    assert js[0].status == "failed" and "unicorn" in js[0].error


def test_wrong_detector_and_missing_path(tmp_path):
    det = save_mask2former(tmp_path / "m2f5", num_labels=5)
    with pytest.raises(UnigapError, match="80 COCO"):
        GenevalJudge(detector=str(det), clip=str(tmp_path), device="cpu").load()
    with pytest.raises(UnigapError, match="cannot load"):
        GenevalJudge(detector=str(tmp_path / "nope"), device="cpu").load()


def test_unknown_option_is_an_error():
    from unigap.errors import ConfigError

    with pytest.raises((ConfigError, ValueError), match="detectr"):
        GenevalJudge(detectr="x")
