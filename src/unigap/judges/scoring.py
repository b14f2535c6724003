"""Benchmark-scorer aggregation ("Gen." of the paper's tables), pure functions over stored rows.

A scorer judge (geneval, t2i-compbench, sciscore) stores a continuous `score` per candidate.
Gen. of a subtask = the mean score of its candidates x `scale` (100 for GenEval accuracy and the
T2I-CompBench metrics, as the paper reports them; 1 for SciScore, whose raw values the paper's
Science-T2I column shows, about 22-27); a band and the overall value = the unweighted mean of
their subtasks' values (the paper's tables: e.g. Janus-Pro's T2I-CompBench++ Non. overall 26.22 is the
plain mean of its six subtasks). CIs:
95 % bootstrap over prompts within each subtask (`unigap.analysis.stats.summarise_ratio`: the
mean score is the ratio sum(score) / count of per-prompt sums).

Candidates whose scorer failed (score None) are left out, and counted.

`BENCHMARKS` says which benchmark a prompt belongs to (`benchmark_of`) and which scorer judge scores
it: the routing of `{name: benchmark}` (unigap.judges.benchmark) and the per-benchmark blocks of the
paper's tables (unigap.analysis.table) both read it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable

from unigap.errors import DataError

import numpy as np

from unigap.analysis.stats import Counts, summarise_ratio

SCORE_SCALE = {"geneval": 100.0, "t2i-compbench": 100.0, "sciscore": 1.0}
SCORER_JUDGES = tuple(SCORE_SCALE)


@dataclass(frozen=True)
class Benchmark:
    name: str  # the suite name of its prompts, and the value of a custom prompt's `benchmark` field
    title: str  # as the paper's tables name it
    scorer: str  # the judge that scores it (its stored judge column)
    gen: str  # what its Gen. is, in the unit printed

    @property
    def option(self) -> str:
        """Its key in `{name: benchmark}`'s options and in paper9's suite options (t2i_compbench, ...)."""
        return self.name.replace("-", "_")


BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in (
    Benchmark("geneval", "GenEval", "geneval", "GenEval accuracy x100"),
    Benchmark("t2i-compbench", "T2I-CompBench", "t2i-compbench",
              "T2I-CompBench metric x100 (BLIP-VQA / spatial rule / CLIPScore / 3-in-1)"),
    Benchmark("science-t2i", "Science-T2I", "sciscore", "SciScore"),
)}


def benchmark_of(prompt: Any) -> str | None:
    """The benchmark of a prompt: its metadata's `benchmark` field (custom prompt files), else its suite
    when that is a benchmark's (paper9's prompts keep their benchmark's suite), else None."""
    named = (prompt.metadata or {}).get("benchmark")
    if named is None:
        return prompt.suite if prompt.suite in BENCHMARKS else None
    if named not in BENCHMARKS:
        raise DataError(f"prompt {prompt.id}: unknown benchmark {named!r} in its 'benchmark' field; "
                        f"known: {', '.join(BENCHMARKS)}")
    return named


def subtask_benchmarks(prompts: Iterable[Any]) -> dict[str, str]:
    """{subtask: benchmark} for the subtasks whose prompts all belong to one benchmark (prompt order);
    a prompt with an unknown `benchmark` field counts as none (reading metrics never fails on it)."""
    seen: dict[str, set] = {}
    for p in prompts:
        try:
            b = benchmark_of(p)
        except DataError:
            b = None
        seen.setdefault(p.subtask, set()).add(b)
    return {s: b.pop() for s, b in seen.items() if len(b) == 1 and None not in b}


def score_scale(judge: str) -> float:
    """x100 for fractions in [0, 1] (GenEval, T2I-CompBench), x1 for SciScore; 100 for unknown judges."""
    return SCORE_SCALE.get(judge, 100.0)


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
    counts = {s: Counts(np.array([v[0] for v in d.values()]), np.array([v[1] for v in d.values()]))
              for s, d in sums.items()}
    return counts, bands, missing


def generation_scores(rows: Iterable[Any], judge: str, n_boot: int = 1000, seed: int = 0,
                      scale: float | None = None, benchmarks: dict[str, str] | None = None) -> dict:
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

    return summarize({"tag": r.subtask, "prompt": r.prompt_id, "correct": bool(r.verdict)}
                     for r in rows if r.judge == judge and r.verdict is not None)
