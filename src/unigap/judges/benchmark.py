"""`{name: benchmark}`: one judge entry that scores every prompt with its own benchmark's scorer.

A mixed suite (`paper9`, or custom prompt files whose rows name their `benchmark`) holds prompts of
GenEval, T2I-CompBench and Science-T2I. Each is scored by that benchmark's official procedure:

| benchmark (`benchmark_of(prompt)`) | scorer judge | options key |
|---|---|---|
| geneval | `geneval` (GenevalJudge) | `geneval` |
| t2i-compbench | `t2i-compbench` (T2ICompBenchJudge) | `t2i_compbench` |
| science-t2i | `sciscore` (SciScoreJudge) | `science_t2i` |

A prompt's benchmark is its `benchmark` metadata field (custom files), else its suite (paper9 keeps
each prompt's benchmark suite). The options are each scorer's own, typed (`null` turns a scorer off).

Storage: each scorer's verdicts and scores go to its own judge column ("geneval", "t2i-compbench",
"sciscore"), exactly as `--judge geneval` etc. store them, so the metrics know which benchmark
scored what (`gen/geneval`, ...) and a routed run and separately judged runs read the same. The
audit runs one resumable stage per column over that scorer's share of the prompts (`route`).
Validation before anything is written (`check_prompts`): a prompt no configured scorer can score,
and a subtask whose prompts belong to two benchmarks, are errors naming the prompts; then each
scorer checks its own share (e.g. GenEval's metadata lines).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from pydantic import Field

from unigap.config import Config
from unigap.errors import ConfigError, DataError
from unigap.judges.base import JUDGES, ExternalJudge, JudgeConfig, Route
from unigap.judges.geneval.options import GenevalOptions
from unigap.judges.sciscore import SciScoreOptions
from unigap.judges.scoring import BENCHMARKS, benchmark_of
from unigap.judges.t2i_compbench.options import T2ICompBenchOptions
from unigap.records import Judgment, Prompt


class BenchmarkOptions(Config):
    """Per benchmark, its scorer's options (`null`: that benchmark's prompts cannot be scored)."""

    geneval: GenevalOptions | None = Field(default_factory=GenevalOptions)
    t2i_compbench: T2ICompBenchOptions | None = Field(default_factory=T2ICompBenchOptions)
    science_t2i: SciScoreOptions | None = Field(default_factory=SciScoreOptions)


class BenchmarkJudge:
    """Routes each prompt to its benchmark's scorer; `judge` works on any mix (for direct use, e.g. the
    guard), the audit stores each scorer's share under its own column (`route`)."""

    name = "benchmark"

    def __init__(self, **options: Any) -> None:
        o = BenchmarkOptions(**options)
        self.scorers: dict[str, ExternalJudge] = {}  # benchmark -> its scorer judge
        for b in BENCHMARKS.values():
            sub = getattr(o, b.option)
            if sub is not None:
                self.scorers[b.name] = _scorer(b.scorer, sub.model_dump(), b.option)

    def columns(self) -> list[str]:
        """The judge columns this entry writes: one per configured scorer."""
        return [s.name for s in self.scorers.values()]

    def assign(self, prompts: Sequence[Prompt]) -> dict[str, list[int]]:
        """{benchmark: indices of its prompts}; an error naming the prompts no configured scorer can score."""
        out: dict[str, list[int]] = {}
        unknown: list[Prompt] = []
        off: dict[str, list[Prompt]] = {}
        for i, p in enumerate(prompts):
            b = benchmark_of(p)
            if b is None:
                unknown.append(p)
            elif b not in self.scorers:
                off.setdefault(b, []).append(p)
            else:
                out.setdefault(b, []).append(i)
        _refuse(unknown, off)
        return {b: out[b] for b in BENCHMARKS if b in out}

    def route(self, prompts: Sequence[Prompt]) -> list[Route]:
        """One `Route` per benchmark present: its scorer's column, the scorer, its prompts."""
        return [
            Route(self.scorers[b].name, self.scorers[b], [prompts[i] for i in idx])
            for b, idx in self.assign(prompts).items()
        ]

    def check_prompts(self, prompts: Sequence[Prompt]) -> None:
        """Raise before anything is judged: unroutable prompts, subtasks spanning benchmarks, each
        scorer's own checks on its share."""
        routes = self.route(prompts)
        _one_benchmark_per_subtask(routes)
        for r in routes:
            check = getattr(r.judge, "check_prompts", None)
            if callable(check):
                check(r.prompts)

    def judge(self, images: torch.Tensor, prompts: Sequence[Prompt]) -> list[Judgment]:
        """Each image judged by its prompt's benchmark scorer, in the input order."""
        out: list[Judgment | None] = [None] * len(prompts)
        for b, idx in self.assign(prompts).items():
            for i, j in zip(idx, self.scorers[b].judge(images[idx], [prompts[i] for i in idx])):
                out[i] = j
        return out  # type: ignore[return-value]


def _scorer(name: str, options: dict, key: str) -> ExternalJudge:
    try:
        return JUDGES.create(name, JudgeConfig(name=name, options=options), f"judges[benchmark].options.{key}")
    except (DataError, OSError) as err:  # a file option (e.g. T2I-CompBench's complex_spatial_file) that cannot be read
        raise DataError(f"benchmark judge: options.{key}: {err}") from None


def _refuse(unknown: list[Prompt], off: dict[str, list[Prompt]]) -> None:
    if unknown:
        raise DataError(
            f"benchmark judge: no benchmark scorer can score {_names(unknown)}: a prompt is scored by "
            f"its benchmark, its 'benchmark' field ({', '.join(BENCHMARKS)}) or else its suite "
            "(suites geneval, t2i-compbench, science-t2i, paper9); add a 'benchmark' column to the "
            "prompt file"
        )
    if off:
        b, ps = next(iter(off.items()))
        raise ConfigError(
            f"benchmark judge: options.{BENCHMARKS[b].option} is null, so nothing scores the "
            f"{BENCHMARKS[b].title} prompt(s) {_names(ps)}; configure it or leave those prompts out"
        )


def _one_benchmark_per_subtask(routes: list[Route]) -> None:
    """Metrics group by subtask: a subtask must belong to one benchmark."""
    first: dict[str, tuple[str, str]] = {}
    for r in routes:
        for p in r.prompts:
            b, pid = first.setdefault(p.subtask, (r.column, p.id))
            if b != r.column:
                raise DataError(
                    f"benchmark judge: subtask {p.subtask!r} has prompts of two benchmarks "
                    f"({pid} scored by {b}, {p.id} by {r.column}); give them different subtask names"
                )


def _names(prompts: list[Prompt]) -> str:
    shown = ", ".join(f"{p.id} (suite {p.suite}, subtask {p.subtask})" for p in prompts[:3])
    return shown + (f" and {len(prompts) - 3} more" if len(prompts) > 3 else "")


def benchmark_judge(cfg: JudgeConfig, options: BenchmarkOptions) -> BenchmarkJudge:
    """The registry's factory of `judges: [{name: benchmark}]`."""
    return BenchmarkJudge(**options.model_dump())
