"""Audit metrics (the paper's non-unification score and weak generation, arXiv 2507.16663), pure functions
over stored judgment rows.

- non_unification: share of candidates the model's own understanding rejects (self verdict 0).
- generation_score/<judge>: share the external judge accepts.
- weak_generation/<judge>: P(external rejects | self rejects); > 50 % means the gap comes from
  weak generation rather than misunderstanding.
- self_accuracy / self_precision / self_recall /<judge>: the self-judge scored against the
  external judge as truth, "accept" as the positive class.
Candidates without a verdict (unparsed or failed) are left out of every ratio they would enter,
and counted separately: an unparsed answer is never silently a rejection.

An external judge's metrics cover the subtasks it judged (a benchmark's scorer judges only its own
benchmark's prompts in a mixed suite). With `benchmarks` ({subtask: benchmark}) every metric also
has a "benchmarks" level: per benchmark, the unweighted mean of its subtasks (the paper's per-table
"Overall").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from unigap.analysis.stats import Counts, summarise_ratio
from unigap.vocab import SELF_JUDGE, is_external


class Row(Protocol):
    candidate_id: int
    judge: str
    verdict: int | None
    status: str
    prompt_id: str
    subtask: str
    band: str | None


@dataclass
class Table:
    """One row per candidate: verdicts as arrays with -1 for 'no verdict'."""

    prompt_ids: list[str]
    subtasks: list[str]
    bands: dict[str, str]
    verdicts: dict[str, np.ndarray]  # judge -> (N,)
    status: dict[str, list[str]]


def build_table(rows: Iterable[Row]) -> Table:
    by_cand: dict[int, dict[str, Any]] = defaultdict(dict)
    meta: dict[int, tuple[str, str, str | None]] = {}
    for r in rows:
        by_cand[r.candidate_id][r.judge] = r
        meta[r.candidate_id] = (r.prompt_id, r.subtask, r.band)
    ids = sorted(by_cand)
    judges = sorted({j for d in by_cand.values() for j in d})
    verdicts = {j: np.array([_v(by_cand[c].get(j)) for c in ids], dtype=np.int64) for j in judges}
    status = {j: [by_cand[c][j].status if j in by_cand[c] else "missing" for c in ids] for j in judges}
    bands = {meta[c][1]: meta[c][2] for c in ids if meta[c][2]}
    return Table([meta[c][0] for c in ids], [meta[c][1] for c in ids], bands, verdicts, status)


def _v(row: Row | None) -> int:
    return -1 if row is None or row.verdict is None else int(row.verdict)


Pair = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]  # (self, ext) -> (num, den) masks

PAIR_METRICS: dict[str, Pair] = {
    "weak_generation": lambda s, e: ((s == 0) & (e == 0), (s == 0) & (e >= 0)),
    "self_accuracy": lambda s, e: ((s == e) & (s >= 0), (s >= 0) & (e >= 0)),
    "self_precision": lambda s, e: ((s == 1) & (e == 1), (s == 1) & (e >= 0)),
    "self_recall": lambda s, e: ((s == 1) & (e == 1), (e == 1) & (s >= 0)),
}


def per_prompt_counts(t: Table, num: np.ndarray, den: np.ndarray, only: set[str] | None = None) -> dict[str, Counts]:
    """Sum candidate-level masks to prompt-level counts, grouped by subtask (prompt order kept; the
    subtasks in `only` when given)."""
    out: dict[str, Counts] = {}
    for subtask in [s for s in dict.fromkeys(t.subtasks) if only is None or s in only]:
        sel = np.array([s == subtask for s in t.subtasks])
        pids = list(dict.fromkeys(p for p, m in zip(t.prompt_ids, sel) if m))
        index = {p: i for i, p in enumerate(pids)}
        rows = np.array([index[p] for p, m in zip(t.prompt_ids, sel) if m], dtype=np.int64)
        out[subtask] = Counts(np.bincount(rows, num[sel], len(pids)), np.bincount(rows, den[sel], len(pids)))
    return out


def confusion(s: np.ndarray, e: np.ndarray) -> dict[str, int]:
    """Self vs external, accept = positive: tp self 1 ext 1, fp self 1 ext 0, fn self 0 ext 1, tn."""
    return {
        "tp": int(((s == 1) & (e == 1)).sum()),
        "fp": int(((s == 1) & (e == 0)).sum()),
        "fn": int(((s == 0) & (e == 1)).sum()),
        "tn": int(((s == 0) & (e == 0)).sum()),
    }


def judged_subtasks(t: Table, judge: str) -> set[str]:
    """The subtasks `judge` has a stored row for (any status)."""
    return {sub for sub, st in zip(t.subtasks, t.status[judge]) if st != "missing"}


def audit_metrics(
    rows: Iterable[Row],
    self_judge: str = SELF_JUDGE,
    n_boot: int = 1000,
    seed: int = 0,
    benchmarks: dict[str, str] | None = None,
) -> dict:
    """All audit metrics with CIs, confusion matrices and unparsed/failed counts; `benchmarks` =
    {subtask: benchmark} adds each metric's per-benchmark level (and "benchmark_of" to the result)."""
    rows = list(rows)
    t = build_table(rows)
    groups = {"benchmarks": dict(benchmarks or {})}
    meta = {"bands_of": t.bands, "benchmark_of": groups["benchmarks"]}
    if self_judge not in t.verdicts:
        return {"metrics": {}, "confusion": {}, "unparsed": {}, **meta}

    def ratio(num: np.ndarray, den: np.ndarray, only: set[str] | None = None) -> dict:
        return summarise_ratio(per_prompt_counts(t, num, den, only), t.bands, n_boot, seed, groups=groups)

    s = t.verdicts[self_judge]
    metrics = {"non_unification": ratio(s == 0, s >= 0)}
    conf = {}
    for judge, e in t.verdicts.items():
        if judge == self_judge or not is_external(judge):  # model:improved on base images is win-rate data
            continue
        scope = judged_subtasks(t, judge)
        metrics[f"generation_score/{judge}"] = ratio(e == 1, e >= 0, scope)
        for name, fn in PAIR_METRICS.items():
            metrics[f"{name}/{judge}"] = ratio(*fn(s, e), scope)
        conf[judge] = {
            sub: confusion(s[m], e[m])
            for sub in dict.fromkeys(t.subtasks)
            if sub in scope
            for m in [np.array([x == sub for x in t.subtasks])]
        }
    metrics.update(scorer_means(rows, n_boot, seed, groups["benchmarks"]))
    return {"metrics": metrics, "confusion": conf, "unparsed": status_counts(t), **meta}


def scorer_means(rows: list, n_boot: int, seed: int, benchmarks: dict[str, str] | None = None) -> dict:
    """gen/<scorer>: the benchmark scorers' mean continuous score (the paper's Gen.), with CIs."""
    from unigap.analysis.scores import generation_scores
    from unigap.judges.scoring import SCORER_JUDGES

    present = {r.judge for r in rows}
    return {
        f"gen/{j}": generation_scores(rows, j, n_boot, seed, benchmarks=benchmarks)
        for j in SCORER_JUDGES
        if j in present
    }


def status_counts(t: Table) -> dict[str, dict[str, int]]:
    """judge -> {"unparsed": n, "failed": n}."""
    return {j: {k: sum(1 for x in st if x == k) for k in ("unparsed", "failed")} for j, st in t.status.items()}
