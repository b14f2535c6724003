"""T2I-CompBench scoring rules on fixed numbers, worked out by hand from the official scripts
(BLIP_vqa.py, blip_vqa.vqa_prob, CLIP_similarity.py, 2D/3D_spatial_eval.py, numeracy_eval.py, 3_in_1.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unigap.judges.t2i_compbench import rules


def box(x1, y1, x2, y2):
    return {"x_min": x1, "y_min": y1, "x_max": x2, "y_max": y2}


# ---- BLIP-VQA ----------------------------------------------------------------------------------

def test_blip_product_of_rounded_yes_probabilities():
    # '{:.4f}' per question: 0.91234 -> 0.9123, 0.55557 -> 0.5556; product 0.50687... -> 0.5069
    assert rules.blip_vqa_score([0.91234, 0.55557]) == 0.5069
    assert rules.blip_vqa_score([0.5, None, None]) == 0.5  # missing questions count 1
    assert rules.blip_vqa_score([None]) == 1.0  # no noun phrase at all: the official reward stays 1
    assert rules.blip_vqa_score([0.9] * 10, np_num=8) == pytest.approx(round(0.9 ** 8, 4))  # only np_num phrases


def test_yes_probability_is_the_renormalised_softmax():
    logits = np.array([2.0, -1.0, 0.5, 3.0])  # vocabulary of 4; "yes" = 0, "no" = 2
    p = np.exp(logits) / np.exp(logits).sum()
    assert rules.yes_probability(2.0, 0.5) == pytest.approx(p[0] / (p[0] + p[2]))
    assert rules.yes_probability(-800.0, 0.0) == pytest.approx(0.0) and rules.yes_probability(800.0, 0.0) == 1.0


def test_pre_question():
    assert rules.pre_question('A Red "Car".?') == "a red car?"
    assert len(rules.pre_question(" ".join(["w"] * 60)).split()) == 50


# ---- CLIPScore ---------------------------------------------------------------------------------

def test_clip_score_is_the_plain_cosine():
    assert rules.clip_score([3.0, 0.0], [1.0, 1.0]) == pytest.approx(1 / math.sqrt(2))  # not x100, not 2.5 max(.,0)
    assert rules.clip_score([1.0, 0.0], [-1.0, 0.0]) == pytest.approx(-1.0)  # negative stays negative


# ---- 2D / 3D relations -------------------------------------------------------------------------

def test_left_right_top_bottom():
    a, b = box(0, 0, 10, 10), box(50, 0, 60, 10)  # b is 50 px right of a, no overlap
    assert rules.determine_position("on the left of", a, b) == 1.0
    assert rules.determine_position("on the right of", a, b) == 0.0
    assert rules.determine_position("on the right of", b, a) == 1.0
    assert rules.determine_position("on the top of", box(0, 0, 10, 10), box(0, 50, 10, 60)) == 1.0
    assert rules.determine_position("on the bottom of", box(0, 50, 10, 60), box(0, 0, 10, 10)) == 1.0
    # a diagonal where |dy| > |dx|: not "left of" although dx > 0
    assert rules.determine_position("on the left of", box(0, 0, 10, 10), box(20, 40, 30, 50)) == 0.0


def test_overlap_softens_and_on_top_of_scores_zero():
    # boxes 0-10 and 5-15 on x, same y: inter 5 x 10 = 50, union 150, IoU 1/3 >= 0.1 -> 0.1 / (1/3) = 0.3
    a, b = box(0, 0, 10, 10), box(5, 0, 15, 10)
    assert rules.determine_position("on the left of", a, b) == pytest.approx(0.3)
    assert rules.determine_position("on top of", a, b) == 0.0  # in the vocabulary but no branch: 0 officially
    assert rules.determine_position(None, a, b) == 0.0


def test_next_to_distance_rule():
    a = box(0, 0, 10, 10)
    assert rules.determine_position("next to", a, box(200, 100, 210, 110)) == 1.0  # |dy| = 100 < 150
    assert rules.determine_position("near", a, box(300, 200, 310, 210)) == pytest.approx(150 / 300)


def test_spatial_score_formula_and_floor():
    a, b = (box(0, 0, 10, 10), 0.8), (box(50, 0, 60, 10), 0.6)
    assert rules.spatial_score(a, b, "on the left of") == pytest.approx(0.25 * 0.8 + 0.25 * 0.6 + 0.5)
    assert rules.spatial_score(a, b, "on the right of") == 0.0  # 0.35 < 0.5 -> 0
    assert rules.spatial_score(a, b, "on the right of", floor=False) == pytest.approx(0.35)  # 3D: no floor
    assert rules.spatial_score(a, None, "on the left of", floor=False) == pytest.approx(0.2)
    assert rules.spatial_score(None, None, "on the left of") == 0.0


def test_3d_depth_uses_the_official_axis_order():
    depth = np.zeros((100, 100))  # indexed [x, y] as in 3D_spatial_eval.py
    depth[0:20, 50:60] = 1.0  # x 0-20, y 50-60 "near"
    front, back = box(0, 50, 20, 60), box(10, 50, 30, 60)  # IoU = 10*10 / (200 + 200 - 100) = 1/3
    assert rules.determine_position("in front of", front, back, depth_map=depth) == pytest.approx((1 / 3) / 0.5)
    assert rules.determine_position("behind", front, back, depth_map=depth) == 0.0
    assert rules.determine_position("behind", back, front, depth_map=depth) == pytest.approx((1 / 3) / 0.5)
    far = box(60, 0, 70, 10)
    assert rules.determine_position("in front of", front, far, depth_map=depth) == 0.0  # no overlap -> 0
    same = box(0, 50, 20, 61)  # IoU 200/220 > 0.5: full score when nearer
    assert rules.determine_position("in front of", front, same, depth_map=depth) in (0.0, 1.0)


def test_positions_3d_quirk():
    assert rules.positions_3d(["dog", "dog", "desk"], "dog", "desk") == (1, 2)  # the second dog, as officially
    assert rules.positions_3d(["desk", "hot dog"], "dog", "desk") == (1, 0)  # substring match
    assert rules.positions_3d(["cat"], "dog", "cat") == (None, 0)
    assert rules.positions_3d([], "dog", "cat") == (None, None)


def test_detector_frame_is_torchvision_resize_479_480():
    assert rules.detector_frame(512, 512) == (479, 479)
    assert rules.detector_frame(1024, 512) == (480, 240)  # long side capped at 480: short int(480 * 479 / 958)
    assert rules.detector_frame(300, 600) == (240, 480)


# ---- numeracy ----------------------------------------------------------------------------------

def test_dedup_and_numeracy_score():
    boxes = [[0, 0, 100, 100], [1, 1, 99, 99], [200, 0, 300, 100], [0, 0, 100, 100]]
    labels = ["dog", "dog", "dog", "cat"]
    kept = rules.dedup(labels, boxes)  # the second dog is inside the first (> 90 %): dropped
    assert kept == ["dog", "dog", "cat"]
    # two dogs (right count: 1/2 * 1/2 + 1/2 * 1/2) and three cats (found, wrong count: 1/2 * 1/2)
    assert rules.numeracy_score([("dog", 2), ("cat", 3)], kept) == pytest.approx(0.75)
    assert rules.numeracy_score([("dog", 1)], ["hot dog"]) == pytest.approx(1.0)  # renamed by substring
    assert rules.numeracy_score([("bird", 1)], ["dog"]) == 0.0


# ---- 3-in-1 ------------------------------------------------------------------------------------

def test_three_in_one():
    assert rules.three_in_one(0.6, 0.2, 0.3, "spatial") == pytest.approx(0.4)
    assert rules.three_in_one(0.6, 0.2, 0.3, "action") == pytest.approx(0.45)
    assert rules.three_in_one(0.6, 0.2, 0.3, "both") == pytest.approx(1.1 / 3)
    assert rules.complex_key("The Red hat. Then more\n") == "the red hat"
