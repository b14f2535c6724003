from dataclasses import dataclass

from unigap.analysis.winrate import win_rate


@dataclass
class R:
    candidate_id: int
    judge: str
    verdict: int | None
    prompt_id: str
    subtask: str = "a"
    band: str | None = "easy"
    status: str = "ok"


def rows(triples, subtask="a", start=0):
    """triples of (label, pre, post), one candidate (and prompt) each."""
    out = []
    for i, (lab, pre, post) in enumerate(triples, start):
        out += [
            R(i, "oracle", lab, f"p{i}", subtask),
            R(i, "self", pre, f"p{i}", subtask),
            R(i, "model:improved", post, f"p{i}", subtask),
        ]
    return out


def test_papers_worked_case_two_of_three():
    # 3 disagreements, the improved model agrees with the external judge on 2
    data = rows([(0, 1, 0), (1, 0, 1), (0, 0, 1), (1, 1, 1), (0, 0, 0)])
    w = win_rate(data, n_boot=100)
    assert abs(w["win_rate"]["subtasks"]["a"]["value"] - 2 / 3) < 1e-12
    assert w["kinds_total"] == {"fp_corrected": 1, "fn_corrected": 1, "new_fp": 1, "new_fn": 0}
    assert w["fp_correction_share_of_wins"] == 0.5
    assert w["disagreements"] == 3


def test_no_disagreement_is_fifty():
    w = win_rate(rows([(1, 1, 1), (0, 0, 0)]), n_boot=50)
    assert w["win_rate"]["subtasks"]["a"]["value"] == 0.5
    assert w["win_rate"]["subtasks"]["a"]["ci"] == [0.5, 0.5]


def test_overall_is_unweighted_over_subtasks_and_missing_judge_reported():
    data = rows([(0, 1, 0)], "a") + rows([(0, 0, 1), (1, 1, 0)], "b", start=10)
    w = win_rate(data, n_boot=50)
    assert w["win_rate"]["subtasks"]["a"]["value"] == 1.0 and w["win_rate"]["subtasks"]["b"]["value"] == 0.0
    assert w["win_rate"]["overall"]["value"] == 0.5
    assert win_rate(data, label="qwen")["missing_judges"] == ["qwen"]
