"""Gen. of the paper's tables: benchmark-scorer aggregation, pure functions over stored rows.

A scorer judge (geneval, t2i-compbench, sciscore) stores a continuous `score` per candidate.
Gen. of a subtask = the mean score of its candidates x `scale` (unigap.judges.scoring.score_scale:
100 for GenEval accuracy and the T2I-CompBench metrics, 1 for SciScore); a band and the overall
value = the unweighted mean of their subtasks' values (the paper's tables: e.g. Janus-Pro's
T2I-CompBench++ Non. overall 26.22 is the plain mean of its six subtasks). CIs: 95 % bootstrap over
prompts within each subtask (`unigap.analysis.stats.summarise_ratio`: the mean score is the ratio
sum(score) / count of per-prompt sums).

Candidates whose scorer failed (score None) are left out, and counted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np

from unigap.analysis.stats import Counts, summarise_ratio
from unigap.judges.scoring import score_scale


def per_prompt_scores(rows: Iterable[Any], judge: str) -> tuple[dict[str, Counts], dict[str, str], int]:
    """({subtask: Counts(sum of scores per prompt, scored candidates per prompt)}, bands, n without score).

    rows: objects with judge, prompt_id, subtask, band, score (JudgmentRow with its `score`)."""
    sums: dict[str, dict[str, list[float]]] = defaultdict(dict)
    bands: dict[str, str] = {}
    missing = 0
    for r in rows:
        if r.judge != judge:
            continue
        if r.band:
            bands[r.subtask] = r.band
        cell = sums[r.subtask].setdefault(r.prompt_id, [0.0, 0.0])
        score = getattr(r, "score", None)
        if score is None or score != score:
            missing += 1
            continue
        cell[0] += float(score)
        cell[1] += 1.0
    counts = {
        s: Counts(np.array([v[0] for v in d.values()]), np.array([v[1] for v in d.values()])) for s, d in sums.items()
    }
    return counts, bands, missing


def generation_scores(
    rows: Iterable[Any],
    judge: str,
    n_boot: int = 1000,
    seed: int = 0,
    scale: float | None = None,
    benchmarks: dict[str, str] | None = None,
) -> dict:
    """Gen. of one scorer: {"subtasks": {s: entry}, "bands": {b: entry}, "benchmarks": {b: entry},
    "overall": entry, "scale": k, "missing": n}; entry = {"value", "ci", "sum", "n"} with value and ci
    already x scale; `benchmarks` = {subtask: benchmark} groups the subtasks as the paper's blocks."""
    counts, bands, missing = per_prompt_scores(rows, judge)
    k = score_scale(judge) if scale is None else scale
    out = summarise_ratio(counts, bands, n_boot, seed, groups={"benchmarks": benchmarks or {}})
    for s, e in out["subtasks"].items():
        e["sum"], e["n"] = float(counts[s].num.sum()), int(counts[s].den.sum())
        e.pop("num", None), e.pop("den", None)
    for e in [*out["subtasks"].values(), *out["bands"].values(), *out["benchmarks"].values(), out["overall"]]:
        _scale(e, k)
    return {**out, "scale": k, "missing": missing}


def _scale(e: dict, k: float) -> None:
    if e.get("value") is not None:
        e["value"] *= k
    if e.get("ci"):
        e["ci"] = [c * k for c in e["ci"]]


def geneval_summary(rows: Iterable[Any], judge: str = "geneval") -> dict:
    """GenEval's summary_scores.py figures from stored verdicts (see judges.geneval.summary)."""
    from unigap.judges.geneval.summary import summarize

    return summarize(
        {"tag": r.subtask, "prompt": r.prompt_id, "correct": bool(r.verdict)}
        for r in rows
        if r.judge == judge and r.verdict is not None
    )
