import numpy as np
import pytest

from unigap.curation.curate import CalibrateConfig, CurateConfig, Scored, curate, pick_threshold
from unigap.errors import UnigapError
from unigap.records import Prompt


def P(i, band="easy"):
    return Prompt(id=f"p{i}", text=f"prompt {i}", subtask=band[0], split="train", suite="t", band=band)


def S(cid, pid, idx, v, prob):
    return Scored(cid, pid, idx, v, prob)


SCORED = [
    S(1, "p1", 0, 1, 0.55),
    S(2, "p1", 1, 1, 0.95),
    S(3, "p1", 2, 1, 0.8),
    S(4, "p1", 3, 0, 0.2),
    S(5, "p2", 0, 1, 0.6),
    S(6, "p2", 1, 0, 0.1),
]


def test_min_prob_keeps_confident_accepts_and_discards_prompts_left_empty():
    c = curate([P(1), P(2)], SCORED, CurateConfig(rule="all_accepted", min_prob=0.7))
    assert [s.candidate_id for s in c.sft] == [2, 3]
    assert c.discard == ["p2"]


def test_top_k_takes_the_most_confident_per_prompt():
    c = curate([P(1), P(2)], SCORED, CurateConfig(rule="all_accepted", top_k=2))
    assert sorted(s.candidate_id for s in c.sft) == [2, 3, 5]


def test_confidence_options_refuse_parse_mode_verdicts():
    parse = [S(1, "p1", 0, 1, None)]
    with pytest.raises(UnigapError, match="self_judge.mode=prob"):
        curate([P(1)], parse, CurateConfig(rule="all_accepted", min_prob=0.9))
    assert len(curate([P(1)], parse, CurateConfig(rule="all_accepted")).sft) == 1  # plain selection still works


def test_pick_threshold_lowest_cutoff_reaching_target():
    probs = np.array([0.99, 0.9, 0.8, 0.7, 0.6, 0.55])
    labels = np.array([1, 1, 1, 0, 1, 0])
    t = pick_threshold(probs, labels, 0.8)
    # cutoff 0.6 keeps 5 with 4 right (0.8): the lowest that reaches 0.8
    assert t["threshold"] == 0.6 and t["precision"] == pytest.approx(0.8) and t["recall"] == 1.0 and t["reached"]
    none = pick_threshold(np.array([0.9, 0.8]), np.array([0, 1]), 0.9)
    assert not none["reached"] and none["threshold"] == 0.8 and none["precision"] == 0.5


def test_pick_threshold_keeps_ties_together():
    t = pick_threshold(np.array([0.9, 0.9, 0.5]), np.array([1, 0, 1]), 0.6)
    assert t["threshold"] == 0.5 and t["precision"] == pytest.approx(2 / 3)


def test_calibrate_per_band_on_held_out_prompts():
    prompts = [P(i, "easy") for i in range(10)] + [P(i, "hard") for i in range(10, 20)]
    scored, labels, cid = [], {}, 0
    for p in prompts:
        for k, prob in enumerate([0.95, 0.85, 0.65, 0.55]):
            scored.append(S(cid, p.id, k, 1, prob))
            # easy: every accepted image is right; hard: only the very confident ones
            labels[cid] = 1 if p.band == "easy" or prob > 0.9 else 0
            cid += 1
    cfg = CurateConfig(rule="all_accepted", calibrate=CalibrateConfig(fraction=0.3, target_precision=0.9))
    c = curate(prompts, scored, cfg, labels)
    assert c.thresholds["easy"]["threshold"] == 0.55 and c.thresholds["hard"]["threshold"] == 0.95
    assert len(c.held_out) == 6 and not set(c.held_out) & {s.prompt_id for s in c.sft}
    hard_sft = [s for s in c.sft if int(s.prompt_id[1:]) >= 10]
    assert hard_sft and all(s.prob >= 0.95 for s in hard_sft)
    assert sum(1 for s in c.sft if int(s.prompt_id[1:]) < 10) == 7 * 4
    with pytest.raises(UnigapError, match="labelling judge"):
        curate(prompts, scored, cfg, {})
