"""GenEval's decision rules (`unigap.judges.geneval.decide`) on hand-made detections.

Expected values are worked out by hand from evaluate_images.py @ af4902f (`evaluate`,
`relative_position`, the thresholding in `evaluate_image`), not by calling our code twice.
"""

from __future__ import annotations

import json

import pytest

from unigap.errors import DataError
from unigap.judges.geneval import decide, relative_position, select_detections, summarize
from unigap.judges.geneval.rules import box_iou, check_metadata
from unigap.judges.geneval.summary import format_summary


def det(box, score=0.95, color=None):
    return {"box": list(box), "score": score, "color": color}


def meta(tag, include, exclude=None):
    m = {"tag": tag, "include": include, "prompt": "p"}
    if exclude is not None:
        m["exclude"] = exclude
    return m


# ---- single_object / two_object -------------------------------------------------------------


def test_single_object():
    m = meta("single_object", [{"class": "dog", "count": 1}])
    assert decide(m, {"dog": [det([0, 0, 10, 10])]}) == (True, "")
    assert decide(m, {"cat": [det([0, 0, 10, 10])]}) == (False, "expected dog>=1, found 0")


def test_two_object_is_an_and():
    m = meta("two_object", [{"class": "dog", "count": 1}, {"class": "cup", "count": 1}])
    assert decide(m, {"dog": [det([0, 0, 5, 5])], "cup": [det([9, 9, 12, 12])]})[0] is True
    ok, reason = decide(m, {"dog": [det([0, 0, 5, 5])]})
    assert not ok and reason == "expected cup>=1, found 0"
    ok, reason = decide(m, {})
    assert reason == "expected dog>=1, found 0\nexpected cup>=1, found 0"


# ---- counting: 0.9 threshold and exclude ------------------------------------------------------


def counting_meta(n):
    return meta("counting", [{"class": "clock", "count": n}], [{"class": "clock", "count": n + 1}])


def test_counting_threshold_is_0_9_strict():
    raw = {"clock": [det([0, 0, 4, 4], 0.89), det([10, 0, 14, 4], 0.91), det([20, 0, 24, 4], 0.95)]}
    kept = select_detections(raw, "counting")
    assert [d["score"] for d in kept["clock"]] == [0.95, 0.91]  # 0.89 < 0.9 dropped, sorted by score
    assert decide(counting_meta(2), kept) == (True, "")
    ok, reason = decide(counting_meta(3), kept)
    assert not ok and reason == "expected clock>=3, found 2"
    # the same detections under another tag use 0.3: all three kept
    assert len(select_detections(raw, "single_object")["clock"]) == 3
    assert select_detections({"clock": [det([0, 0, 1, 1], 0.9)]}, "counting") == {}  # score > threshold, not >=


def test_counting_exclude_counts_every_kept_detection():
    kept = select_detections(
        {"clock": [det([i * 10, 0, i * 10 + 4, 4], 0.91 + i * 0.01) for i in range(3)]}, "counting"
    )
    ok, reason = decide(counting_meta(2), kept)
    assert not ok and reason == "expected clock<3, found 3"


def test_max_objects_caps_per_class_and_nms_is_off_by_default():
    raw = {"cup": [det([0, 0, 10, 10], 0.5 + i / 100) for i in range(20)]}  # 20 identical boxes
    assert len(select_detections(raw, "single_object")["cup"]) == 16
    assert len(select_detections(raw, "single_object", max_objects=5)["cup"]) == 5
    assert len(select_detections(raw, "single_object", max_overlap=0.5)["cup"]) == 1  # NMS when asked


def test_iou_uses_inclusive_pixels():
    # [0,0,9,9] has 10x10 = 100 px; the overlap with [5,0,14,9] is 5x10 = 50; union 150
    assert box_iou([0, 0, 9, 9], [5, 0, 14, 9]) == pytest.approx(50 / 150)


# ---- colors / color_attr ------------------------------------------------------------------------


def test_colors_on_the_most_confident_objects_only():
    m = meta("colors", [{"class": "car", "count": 1, "color": "red"}])
    dets = {"car": [det([0, 0, 5, 5], 0.9, "red"), det([6, 6, 9, 9], 0.5, None)]}
    assert decide(m, dets) == (True, "")
    dets = {"car": [det([0, 0, 5, 5], 0.9, "blue"), det([6, 6, 9, 9], 0.5, "red")]}
    ok, reason = decide(m, dets)
    assert not ok and reason == "expected red car>=1, found 0 red; and 1 blue"


def test_color_attr_two_classes():
    m = meta(
        "color_attr", [{"class": "car", "count": 1, "color": "red"}, {"class": "bench", "count": 1, "color": "white"}]
    )
    dets = {"car": [det([0, 0, 5, 5], color="red")], "bench": [det([6, 0, 9, 5], color="brown")]}
    ok, reason = decide(m, dets)
    assert not ok and reason == "expected white bench>=1, found 0 white; and 1 brown"
    dets["bench"][0]["color"] = "white"
    assert decide(m, dets)[0] is True


def test_colour_must_be_classified():
    m = meta("colors", [{"class": "car", "count": 1, "color": "red"}])
    with pytest.raises(ValueError, match="not classified"):
        decide(m, {"car": [det([0, 0, 5, 5])]})


# ---- position -----------------------------------------------------------------------------------


def test_relative_position_plain_cases():
    a, b = [0, 0, 10, 10], [20, 0, 30, 10]
    # offset (-20, 0); dims (20, 20) -> shrink 2 -> (-18, 0); / |offset| 20 -> dx = -0.9
    assert relative_position(a, b) == {"left of"}
    assert relative_position(b, a) == {"right of"}
    assert relative_position([0, 0, 10, 10], [0, 20, 10, 30]) == {"above"}  # y grows downwards
    assert relative_position([0, 20, 10, 30], [0, 0, 10, 10]) == {"below"}


def test_relative_position_diagonal_on_both_sides_of_the_threshold():
    # centres (15, 15) and (5, 5): offset (10, 10), |offset| = 14.142
    b = [0, 0, 10, 10]
    a = [10, 10, 20, 20]  # x dims 10 + 10 = 20 -> shrink 0.1 * 20 = 2 -> 8 / 14.142 = 0.566 > 0.5
    assert relative_position(a, b) == {"right of", "below"}
    b_wide = [-7.5, 0, 17.5, 10]  # width 25 + 10 = 35 -> shrink 3.5 -> 6.5 / 14.142 = 0.460 <= 0.5
    a2, b2 = [10, 10, 20, 20], b_wide
    assert relative_position(a2, b2) == {"below"}  # x: 15 - 5 = 10 (b_wide's centre is still 5)
    # the same boxes with dims 25 (shrink 2.5 -> 0.530) flip with position_threshold 0.12 (shrink 3 -> 0.495)
    a3, b3 = [10, 10, 20, 20], [-2.5, 0, 12.5, 10]  # width 15 + 10 = 25, centre x 5
    assert "right of" in relative_position(a3, b3, 0.1)
    assert "right of" not in relative_position(a3, b3, 0.12)


def test_relative_position_dead_zone():
    # offset (1, 1), dims (20, 20): shrink 2 on each axis -> (0, 0): no relation at all
    assert relative_position([1, 1, 11, 11], [0, 0, 10, 10]) == set()


def pos_meta(rel):
    return meta("position", [{"class": "teddy bear", "count": 1}, {"class": "dog", "count": 1, "position": [rel, 0]}])


def test_position_clause():
    dets = {"teddy bear": [det([0, 0, 10, 10])], "dog": [det([20, 0, 30, 10])]}
    assert decide(pos_meta("right of"), dets) == (True, "")
    ok, reason = decide(pos_meta("left of"), dets)
    assert not ok and reason == "expected dog left of target, found right of target"


def test_position_without_target_and_on_most_confident_only():
    dets = {"dog": [det([20, 0, 30, 10])]}
    ok, reason = decide(pos_meta("right of"), dets)
    assert not ok and reason == "expected teddy bear>=1, found 0\nno target for dog to be right of"
    # a second, less confident dog on the wrong side is not looked at (count = 1)
    dets = {"teddy bear": [det([0, 0, 10, 10])], "dog": [det([20, 0, 30, 10], 0.9), det([-30, 0, -20, 10], 0.4)]}
    assert decide(pos_meta("right of"), dets)[0] is True


def test_position_dead_zone_fails_with_empty_relation():
    dets = {"teddy bear": [det([0, 0, 10, 10])], "dog": [det([1, 1, 11, 11])]}
    assert decide(pos_meta("right of"), dets) == (False, "expected dog right of target, found  target")


# ---- bad metadata --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, match",
    [
        (meta("shapes", [{"class": "dog", "count": 1}]), "unknown GenEval tag 'shapes'"),
        (meta("single_object", [{"class": "unicorn", "count": 1}]), "unknown GenEval class 'unicorn'"),
        (meta("colors", [{"class": "car", "count": 1, "color": "teal"}]), "unknown GenEval colour 'teal'"),
        (
            meta("position", [{"class": "car", "count": 1}, {"class": "dog", "count": 1, "position": ["near", 0]}]),
            "position",
        ),
        (meta("counting", [{"class": "car", "count": 2}], [{"class": "spaceship", "count": 3}]), "exclude\\[0\\]"),
    ],
)
def test_bad_metadata_names_the_line(bad, match):
    with pytest.raises(DataError, match=match):
        check_metadata(bad, "evaluation_metadata.jsonl:7")
    with pytest.raises(DataError, match="evaluation_metadata.jsonl:7"):
        check_metadata(bad, "evaluation_metadata.jsonl:7")


def test_every_shipped_metadata_line_is_valid():
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "shared/benchmarks/geneval/evaluation_metadata.jsonl"
    if not path.exists():
        pytest.skip("../shared/benchmarks not present")
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines, 1):
        check_metadata(json.loads(line), f"{path.name}:{i}")
    assert len(lines) == 553


# ---- summary_scores.py arithmetic --------------------------------------------------------------


def test_summary_worked_example():
    rows = (
        [{"tag": "single_object", "prompt": "a", "correct": c} for c in (1, 1, 1, 0)]
        + [
            {"tag": "counting", "prompt": "b", "correct": 0},
            {"tag": "counting", "prompt": "b", "correct": 0},
            {"tag": "counting", "prompt": "c", "correct": 1},
        ]
        + [{"tag": "position", "prompt": "d", "correct": 0}]
    )
    s = summarize(rows)
    # tasks 3/4 = 0.75, 1/3, 0/1; overall = mean of the tasks = (0.75 + 0.3333 + 0) / 3 = 0.36111
    assert list(s["tasks"]) == ["single_object", "counting", "position"]  # order of first appearance
    assert s["tasks"]["counting"] == {"accuracy": pytest.approx(1 / 3), "correct": 1, "total": 3}
    assert s["overall"] == pytest.approx((0.75 + 1 / 3 + 0) / 3)
    assert s["correct_images"] == pytest.approx(4 / 8)  # not the same as the overall score
    assert s["correct_prompts"] == pytest.approx(2 / 4)  # a and c have a correct image
    text = format_summary(s)
    assert "counting         = 33.33% (1 / 3)" in text and "Overall score (avg. over tasks): 0.36111" in text
