import numpy as np

from unigap.analysis.stats import Counts, summarise_ratio, unweighted_mean


def test_overall_is_unweighted_mean_of_subtasks_paper_value():
    # Janus-Pro T2I-CompBench++ Non. per subtask (the paper's T2I-CompBench++ table): overall 26.22
    values = [43.33, 43.00, 27.33, 31.00, 2.33, 10.33]
    assert round(unweighted_mean(values), 2) == 26.22


def test_summarise_ratio_values_and_ci():
    per = {
        "a": Counts(np.array([1.0, 0, 1, 1]), np.array([1.0, 1, 1, 1])),
        "b": Counts(np.array([0.0, 0]), np.array([2.0, 2])),
    }
    out = summarise_ratio(per, {"a": "easy", "b": "easy"}, n_boot=200, seed=1)
    assert out["subtasks"]["a"]["value"] == 0.75 and out["subtasks"]["a"]["num"] == 3
    assert out["subtasks"]["b"]["value"] == 0.0
    assert out["bands"]["easy"]["value"] == 0.375 == out["overall"]["value"]
    lo, hi = out["subtasks"]["a"]["ci"]
    assert 0 <= lo <= 0.75 <= hi <= 1
    assert out["subtasks"]["b"]["ci"] == [0.0, 0.0]


def test_empty_denominator_is_none_not_zero():
    out = summarise_ratio({"a": Counts(np.zeros(2), np.zeros(2))}, {}, n_boot=10)
    assert out["subtasks"]["a"]["value"] is None and out["subtasks"]["a"]["ci"] is None
