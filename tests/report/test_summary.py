"""The report's three opening sentences, generated from the numbers, and its terms (docs/glossary.md's)."""

from __future__ import annotations

import re
from pathlib import Path

from unigap.analysis.table import spec_of
from unigap.report.summary import change, summary, terms

CONFIG = {
    "model": {"name": "tiny"},
    "eval_prompts": {"suite": "shapeworld"},
    "eval_n": 4,
    "n": 10,
    "improve": {"method": "sft", "curriculum": {"mode": "fixed"}},
}
PROMPTS = {"train": 360, "eval": 180}


def e(v, lo, hi):
    return {"value": v, "ci": [lo, hi]}


def side(non, gen, acc):
    return {
        "metrics": {
            "non_unification": {"overall": non},
            "generation_score/oracle": {"overall": gen},
            "self_accuracy/oracle": {"overall": acc},
            "weak_generation/oracle": {"overall": e(0.8, 0.7, 0.9)},
        }
    }


def analysis(after, win, guard_passed=True):
    return {
        "before": side(e(0.628, 0.592, 0.661), e(0.333, 0.297, 0.371), e(0.811, 0.782, 0.839)),
        "after": after,
        "win_rate": {"oracle": {"win_rate": {"overall": win}, "disagreements": 103}},
        "guard": {
            "judge": "oracle",
            "agree": 55,
            "n": 100,
            "agreement": 0.55,
            "ci": [0.452, 0.644],
            "threshold": 0.5,
            "passed": guard_passed,
        },
    }


def test_a_run_where_nothing_improved_says_so():
    after = side(e(0.634, 0.589, 0.676), e(0.376, 0.335, 0.415), e(0.697, 0.651, 0.743))
    ran, changed, support = summary(analysis(after, e(0.552, 0.457, 0.652), guard_passed=False), CONFIG, PROMPTS)
    assert ran == (
        "The tiny model audited its own images on ShapeWorld: 180 eval prompts × 4 candidates, each judged "
        "by its own understanding (the self-judge) and by the external judge (oracle), before and after "
        "C-SFT (with curriculum replay) on data its self-judge curated from 360 train prompts × 10 "
        "candidates."
    )
    assert "non-unification 62.8 [59.2, 66.1] → 63.4 [58.9, 67.6] (CIs overlap)" in changed
    assert "self-judge accuracy (oracle) 81.1 [78.2, 83.9] → 69.7 [65.1, 74.3] (worse, CIs apart)" in changed
    assert changed.endswith("none improved beyond overlapping CIs.") and "weak generation" not in changed
    assert "55.2 % (95 % CI 45.7–65.2 %) of the 103 images" in support
    assert "its CI includes 50 %, so no measurable change in understanding" in support
    assert "the data-quality guard failed: oracle agreed with 55 of 100 curated labels, 55.0 %" in support


def test_a_clear_gain_is_named_and_only_when_the_cis_are_apart():
    after = side(e(0.40, 0.35, 0.45), e(0.376, 0.335, 0.415), e(0.80, 0.77, 0.83))
    _, changed, support = summary(analysis(after, e(0.70, 0.60, 0.80)), CONFIG, PROMPTS)
    assert "non-unification 62.8 [59.2, 66.1] → 40.0 [35.0, 45.0] (better, CIs apart)" in changed
    assert changed.endswith("only non-unification improved beyond overlapping CIs.")
    assert "understanding improved" in support and "guard passed" in support
    spec = spec_of("non_unification")
    assert change(spec, e(0.5, 0.4, 0.6), e(0.7, 0.61, 0.8)) == "worse, CIs apart"
    assert change(spec, e(0.5, 0.4, 0.6), {"value": 0.2}) == "no CI"


def test_without_an_analysis_the_summary_says_what_to_run():
    (only,) = summary({}, CONFIG, PROMPTS)
    assert "unigap run" in only and "unigap analyse" in only


def test_every_term_of_the_report_is_in_the_glossary():
    text = (Path(__file__).parents[2] / "docs" / "glossary.md").read_text()
    headings = [h.lower() for h in re.findall(r"^\*\*(.+?)\.\*\*", text, flags=re.M)]
    for t in terms():
        name = t["term"].split(" — ")[0].split(" (")[0].lower()
        assert any(name in h for h in headings), (name, headings)


def test_a_grpo_run_is_described_as_online_rl_not_curated_data():
    config = {
        **CONFIG,
        "improve": {
            "method": "grpo",
            "grpo": {"group_size": 8, "rewards": [{"name": "oracle", "weight": 1.0}]},
            "anchor": {"judge_kl": {"weight": 1.0}, "replay": {"set": None}},
        },
    }
    after = side(e(0.454, 0.41, 0.50), e(0.407, 0.37, 0.45), e(0.694, 0.65, 0.74))
    ran, _, _ = summary(analysis(after, e(0.55, 0.45, 0.65)), config, PROMPTS)
    assert ran.endswith(
        "before and after online GRPO on 360 train prompts (8 candidates per prompt per step, sampled from the "
        "model being trained; reward: oracle, anchored by judge-KL)."
    )
    assert "curated" not in ran
