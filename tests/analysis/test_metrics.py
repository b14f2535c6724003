from dataclasses import dataclass

from unigap.analysis.metrics import audit_metrics


@dataclass
class R:
    candidate_id: int
    judge: str
    verdict: int | None
    prompt_id: str
    subtask: str
    band: str | None = "easy"
    status: str = "ok"


def rows(spec):
    """spec: list of (cid, prompt, subtask, self, oracle)."""
    out = []
    for cid, pid, sub, s, o in spec:
        out.append(R(cid, "self", s, pid, sub, status="ok" if s is not None else "unparsed"))
        out.append(R(cid, "oracle", o, pid, sub))
    return out


def val(m, name, sub):
    return m["metrics"][name]["subtasks"][sub]["value"]


def test_known_answers():
    data = rows(
        [
            (1, "p1", "a", 1, 1),
            (2, "p1", "a", 0, 0),
            (3, "p1", "a", 0, 1),
            (4, "p2", "a", 1, 0),
            (5, "p2", "a", None, 0),  # unparsed: left out of every self ratio, counted
        ]
    )
    m = audit_metrics(data, n_boot=50)
    assert val(m, "non_unification", "a") == 2 / 4
    assert val(m, "generation_score/oracle", "a") == 2 / 5
    assert val(m, "weak_generation/oracle", "a") == 1 / 2  # self rejects 2, oracle rejects 1 of them
    assert val(m, "self_accuracy/oracle", "a") == 2 / 4
    assert val(m, "self_precision/oracle", "a") == 1 / 2
    assert val(m, "self_recall/oracle", "a") == 1 / 2
    assert m["confusion"]["oracle"]["a"] == {"tp": 1, "fp": 1, "fn": 1, "tn": 1}
    assert m["unparsed"]["self"]["unparsed"] == 1


def test_band_and_overall_unweighted():
    data = rows([(1, "p1", "a", 0, 0), (2, "p2", "b", 1, 1), (3, "p3", "b", 1, 1), (4, "p4", "b", 0, 1)])
    for r in data:
        r.band = "easy" if r.subtask == "a" else "hard"
    m = audit_metrics(data, n_boot=20)
    nu = m["metrics"]["non_unification"]
    assert nu["subtasks"]["a"]["value"] == 1.0 and abs(nu["subtasks"]["b"]["value"] - 1 / 3) < 1e-12
    assert abs(nu["overall"]["value"] - (1 + 1 / 3) / 2) < 1e-12  # not the pooled 2/4
    assert nu["bands"]["hard"]["value"] == nu["subtasks"]["b"]["value"]
