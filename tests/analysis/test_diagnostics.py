from dataclasses import dataclass

import numpy as np
import pytest

from unigap.analysis.diagnostics import (
    NO_PROBS,
    auroc,
    exploitation,
    fmt,
    judge_diagnostics,
    run_diagnostics,
    table_rows,
)


@dataclass
class R:
    candidate_id: int
    judge: str
    verdict: int | None
    prompt_id: str
    subtask: str = "a"
    band: str | None = "easy"
    prob: float | None = None
    status: str = "ok"


def rows(items, subtask="a", band="easy", start=0, per_prompt=1):
    """items: (truth, self verdict, self prob); `per_prompt` candidates share a prompt."""
    out = []
    for i, (t, v, p) in enumerate(items, start):
        pid = f"{subtask}{i // per_prompt}"
        out += [R(i, "oracle", t, pid, subtask, band), R(i, "self", v, pid, subtask, band, p)]
    return out


def test_precision_rejection_precision_recall_by_hand():
    # accepted: 3 (2 right); rejected: 2 (1 wrong-image = right rejection); right images: 3 (2 accepted)
    data = rows([(1, 1, None), (1, 1, None), (0, 1, None), (0, 0, None), (1, 0, None)])
    d = judge_diagnostics(data, n_boot=50)["bands"]
    assert d["easy"]["acceptance_precision"]["value"] == pytest.approx(2 / 3)
    assert d["easy"]["rejection_precision"]["value"] == pytest.approx(1 / 2)
    assert d["easy"]["recall"]["value"] == pytest.approx(2 / 3)
    assert d["easy"]["accepted"] == 3 and d["easy"]["n"] == 5
    assert d["overall"]["acceptance_precision"]["num"] == 2 and d["overall"]["acceptance_precision"]["den"] == 3


def test_bands_are_pooled_not_subtask_means():
    # subtask a: 1 accepted, right; subtask b: 3 accepted, 1 right -> pooled 2/4 (the subtask mean would be 2/3)
    data = rows([(1, 1, None)], "a") + rows([(1, 1, None), (0, 1, None), (0, 1, None)], "b", start=10)
    d = judge_diagnostics(data, n_boot=200)["bands"]["easy"]["acceptance_precision"]
    assert d["value"] == pytest.approx(0.5)
    lo, hi = d["ci"]
    assert 0.0 <= lo <= 0.5 <= hi <= 1.0


def test_band_with_nothing_accepted_is_na_never_zero_or_nan():
    data = rows([(1, 1, None), (0, 0, None)], "a", "easy") + rows([(1, 0, None), (0, 0, None)], "h", "hard", start=10)
    d = judge_diagnostics(data, n_boot=20)["bands"]
    hard = d["hard"]["acceptance_precision"]
    assert hard["value"] is None and hard["ci"] is None and hard["note"] == "n/a (0 accepted)"
    assert fmt(hard) == "n/a (0 accepted)"
    assert d["hard"]["rejection_precision"]["value"] == pytest.approx(0.5)
    assert list(d) == ["easy", "hard", "overall"]


def test_auroc_not_available_in_parse_mode_rest_computed():
    d = judge_diagnostics(rows([(1, 1, None), (0, 0, None)]), n_boot=10)
    assert d["probabilities"] is False
    assert d["bands"]["easy"]["auroc"] == {"value": None, "ci": None, "note": NO_PROBS}
    assert d["bands"]["easy"]["acceptance_precision"]["value"] == 1.0


def test_auroc_matches_pair_counting_with_ties():
    scores = np.array([0.9, 0.8, 0.8, 0.3, 0.8, 0.1])
    labels = np.array([1, 1, 0, 1, 0, 0])
    pairs = [(p, n) for p in scores[labels == 1] for n in scores[labels == 0]]
    expected = np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs])
    assert auroc(scores, labels) == pytest.approx(expected)
    assert auroc(scores[labels == 1], labels[labels == 1]) is None


def test_auroc_with_probabilities_and_bootstrap_ci():
    rng = np.random.default_rng(0)
    items = [
        (int(t), int(p > 0.5), float(p))
        for t in [1, 0] * 40
        for p in [np.clip(0.3 * t + 0.35 + 0.3 * rng.random(), 0, 1)]
    ]
    d = judge_diagnostics(rows(items, per_prompt=4), n_boot=100)["bands"]["easy"]["auroc"]
    assert 0.8 < d["value"] <= 1.0
    assert d["ci"][0] <= d["value"] <= d["ci"][1] and d["n"] == 80


def test_unparsed_verdicts_are_left_out():
    data = rows([(1, 1, None), (0, None, None), (0, 0, None)])
    d = judge_diagnostics(data, n_boot=10)["bands"]["easy"]
    assert d["n"] == 2 and d["acceptance_precision"]["den"] == 1 and d["rejection_precision"]["den"] == 1


def test_exploitation_is_base_minus_own():
    good = rows([(1, 1, 0.9), (0, 0, 0.1), (1, 1, 0.8), (0, 0, 0.2)])
    bad = rows([(1, 1, 0.6), (0, 1, 0.7), (1, 0, 0.4), (0, 0, 0.3)])
    e = exploitation(judge_diagnostics(good, n_boot=10), judge_diagnostics(bad, n_boot=10))
    assert e["easy"]["auroc"]["value"] == pytest.approx(1.0 - 0.5)
    assert e["easy"]["acceptance_precision"]["value"] == pytest.approx(1.0 - 0.5)
    parse = exploitation(
        judge_diagnostics(rows([(1, 1, None)]), n_boot=5), judge_diagnostics(rows([(1, 1, None)]), n_boot=5)
    )
    assert parse["easy"]["auroc"] == {"value": None, "note": NO_PROBS}


class FakeStore:
    def __init__(self, by_source):
        self.by_source = by_source

    def judgments(self, judge=None, source=None):
        return [r for r in self.by_source.get(source, []) if judge is None or r.judge == judge]


def test_run_diagnostics_views_and_table_rows():
    base = rows([(1, 1, 0.9), (0, 0, 0.2), (1, 0, 0.4)])
    base += [
        R(r.candidate_id, "model:improved", r.verdict, r.prompt_id, prob=r.prob) for r in base if r.judge == "self"
    ]
    own = rows([(1, 1, 0.7), (0, 1, 0.8)], start=100)
    out = run_diagnostics(FakeStore({"base": base, "improved": own}), n_boot=10)
    assert set(out["views"]) == {
        "base_judge_on_base_images",
        "improved_judge_on_base_images",
        "improved_judge_on_own_images",
    }
    assert out["missing"] == []
    assert out["exploitation"]["oracle"]["easy"]["acceptance_precision"]["value"] == pytest.approx(1.0 - 0.5)
    table = table_rows(out)
    assert {"view", "truth", "band", "acceptance_precision", "auroc"} <= set(table[0])
    only_base = run_diagnostics(FakeStore({"base": rows([(1, 1, None)])}), n_boot=5)
    assert only_base["missing"] == ["improved_judge_on_base_images", "improved_judge_on_own_images"]
