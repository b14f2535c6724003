"""Cohen's kappa, confusion matrices and the pairwise agreement table on known cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unigap.analysis.agreement import (
    agreement_table,
    bootstrap_kappa,
    cohen_kappa,
    confusion,
    kappa_ci,
    verdicts_from_rows,
)


def from_table(n11: int, n10: int, n01: int, n00: int) -> tuple[list[int], list[int]]:
    """Rater lists from a 2x2 table (nXY: a said X, b said Y)."""
    a = [1] * n11 + [1] * n10 + [0] * n01 + [0] * n00
    b = [1] * n11 + [0] * n10 + [1] * n01 + [0] * n00
    return a, b


@pytest.mark.parametrize(
    "table, expected",
    [
        ((20, 5, 10, 15), 2 / 5),  # Wikipedia "Cohen's kappa", 50 proposals: po .7, pe .5
        ((45, 15, 25, 15), 3 / 23),  # Wikipedia, 100 subjects: po .6, pe .54 -> 0.1304
        ((25, 35, 5, 35), 7 / 27),  # Wikipedia, same po, pe .46 -> 0.2593
    ],
)
def test_textbook_kappa(table, expected):
    a, b = from_table(*table)
    assert cohen_kappa(a, b) == pytest.approx(expected, abs=1e-12)


def test_confusion_orientation():
    a, b = from_table(20, 5, 10, 15)
    assert confusion(a, b).tolist() == [[15, 10], [5, 20]]  # rows: a = 0, 1; cols: b = 0, 1


def test_perfect_and_opposite():
    a = [0, 1, 1, 0, 1, 0, 0, 1]
    assert cohen_kappa(a, a) == 1.0
    assert cohen_kappa(a, [1 - v for v in a]) == -1.0


def test_chance_level_is_near_zero():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 2, 20000), rng.integers(0, 2, 20000)
    assert abs(cohen_kappa(a, b)) < 0.03


def test_degenerate_cases():
    assert math.isnan(cohen_kappa([], []))
    assert cohen_kappa([1, 1, 1], [1, 1, 1]) == 1.0  # both constant and equal: defined as 1
    assert cohen_kappa([0, 0], [0, 0]) == 1.0
    assert cohen_kappa([1, 1, 1], [0, 0, 0]) == 0.0  # constant but different: no agreement beyond chance
    assert cohen_kappa([1, 1, 1, 1], [1, 0, 1, 1]) == 0.0  # one constant
    assert confusion([], []).tolist() == [[0, 0], [0, 0]]


def test_bad_input():
    with pytest.raises(ValueError, match="length"):
        cohen_kappa([0, 1], [0])
    with pytest.raises(ValueError, match="0/1"):
        cohen_kappa([0, 2], [0, 1])


def test_bootstrap_seeded_and_brackets_kappa():
    a, b = from_table(20, 5, 10, 15)
    assert np.array_equal(bootstrap_kappa(a, b, 300, seed=3), bootstrap_kappa(a, b, 300, seed=3))
    lo, hi = kappa_ci(a, b, n_boot=2000, seed=0)
    assert lo < 0.4 < hi and -1 <= lo and hi <= 1
    assert kappa_ci([], []) is None
    assert kappa_ci([1, 0, 1], [1, 0, 1]) == (1.0, 1.0)


def test_bootstrap_chunking_does_not_change_samples_shape():
    a, b = from_table(3, 1, 2, 4)
    assert bootstrap_kappa(a, b, 450, seed=0, chunk=100).shape == (450,)


def test_agreement_table_pairs_exclusions_and_overlap():
    verdicts = {
        "oracle": {1: 1, 2: 0, 3: 1, 4: 0, 5: 1},
        "qwen": {1: 1, 2: 0, 3: None, 4: 1, 5: 1, 6: 0},  # 3 unparsed; 6 not judged by oracle
        "http:m": {1: 1, 2: 1},
    }
    rows = {(p.a, p.b): p for p in agreement_table(verdicts, n_boot=200, seed=0)}
    assert list(rows) == [("oracle", "qwen"), ("oracle", "http:m"), ("qwen", "http:m")]
    oq = rows[("oracle", "qwen")]
    assert (oq.n, oq.excluded) == (4, 1)
    assert oq.confusion == [[1, 1], [0, 2]]
    assert oq.agreement == pytest.approx(0.75)
    assert oq.kappa == pytest.approx(cohen_kappa([1, 0, 0, 1], [1, 0, 1, 1]))
    assert oq.ci is not None and oq.ci[0] <= oq.ci[1]
    oh = rows[("oracle", "http:m")]
    assert (oh.n, oh.excluded, oh.confusion) == (2, 0, [[0, 1], [0, 1]])
    assert rows[("oracle", "qwen")] == agreement_table(verdicts, n_boot=200, seed=0)[0]  # seeded


def test_agreement_table_no_overlap():
    (p,) = agreement_table({"a": {1: 1}, "b": {2: 0}}, n_boot=50)
    assert p.n == 0 and math.isnan(p.kappa) and p.ci is None and math.isnan(p.agreement)
    assert p.as_dict()["kappa"] is None


def test_verdicts_from_rows():
    class R:
        def __init__(self, cid, judge, verdict):
            self.candidate_id, self.judge, self.verdict = cid, judge, verdict

    got = verdicts_from_rows([R(1, "b", 1), R(1, "a", None), R(2, "b", 0)])
    assert got == {"b": {1: 1, 2: 0}, "a": {1: None}}
