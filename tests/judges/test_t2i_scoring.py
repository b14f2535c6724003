"""Which benchmark a prompt is, and the scale of each scorer's scores (`unigap.judges.scoring`)."""

from __future__ import annotations

import pytest

from unigap.errors import DataError
from unigap.judges.scoring import benchmark_of, score_scale, subtask_benchmarks
from unigap.records import Prompt


def test_benchmark_of_a_prompt():
    p = lambda suite, **meta: Prompt("p", "t", "s", "eval", suite, metadata=meta)  # noqa: E731
    assert benchmark_of(p("geneval")) == "geneval" and benchmark_of(p("science-t2i")) == "science-t2i"
    assert benchmark_of(p("custom", benchmark="t2i-compbench")) == "t2i-compbench"
    assert benchmark_of(p("custom")) is None and benchmark_of(p("shapeworld")) is None
    with pytest.raises(DataError, match="prompt p: unknown benchmark 'GenEval'.*known: geneval, t2i-compbench"):
        benchmark_of(p("custom", benchmark="GenEval"))
    mixed = [
        Prompt("a", "t", "color", "eval", "t2i-compbench"),
        Prompt("b", "t", "color", "eval", "geneval"),
        Prompt("c", "t", "physics", "eval", "science-t2i"),
        Prompt("d", "t", "x", "eval", "custom", metadata={"benchmark": "nope"}),
    ]
    assert subtask_benchmarks(mixed) == {"physics": "science-t2i"}  # color spans two, x is none


def test_score_scales():
    assert score_scale("geneval") == score_scale("t2i-compbench") == 100.0 and score_scale("sciscore") == 1.0
