"""The benchmarks a scorer judge (geneval, t2i-compbench, sciscore) scores, and the scale of its scores.

A scorer judge stores a continuous `score` per candidate; Gen. of the paper's tables is that score's
mean x `score_scale` (100 for GenEval accuracy and the T2I-CompBench metrics, as the paper reports
them; 1 for SciScore, whose raw values the paper's Science-T2I column shows, about 22-27). The
aggregation over stored rows is unigap.analysis.scores.

`BENCHMARKS` says which benchmark a prompt belongs to (`benchmark_of`) and which scorer judge scores
it: the routing of `{name: benchmark}` (unigap.judges.benchmark) and the per-benchmark blocks of the
paper's tables (unigap.analysis.table) both read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from unigap.errors import DataError

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


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark("geneval", "GenEval", "geneval", "GenEval accuracy x100"),
        Benchmark(
            "t2i-compbench",
            "T2I-CompBench",
            "t2i-compbench",
            "T2I-CompBench metric x100 (BLIP-VQA / spatial rule / CLIPScore / 3-in-1)",
        ),
        Benchmark("science-t2i", "Science-T2I", "sciscore", "SciScore"),
    )
}


def benchmark_of(prompt: Any) -> str | None:
    """The benchmark of a prompt: its metadata's `benchmark` field (custom prompt files), else its suite
    when that is a benchmark's (paper9's prompts keep their benchmark's suite), else None."""
    named = (prompt.metadata or {}).get("benchmark")
    if named is None:
        return prompt.suite if prompt.suite in BENCHMARKS else None
    if named not in BENCHMARKS:
        raise DataError(
            f"prompt {prompt.id}: unknown benchmark {named!r} in its 'benchmark' field; known: {', '.join(BENCHMARKS)}"
        )
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
