"""The external-judge protocol.

A judge receives images (B, H, W, 3) uint8 with their `Prompt` records and returns one
`Judgment` per image. It never raises for a single bad item: it returns a Judgment with
status "failed" and the message, so a run goes on and counts the failure.

A judge may route: with `route(prompts) -> [Route]` and `columns()` (e.g. `benchmark`, which sends
each prompt to its benchmark's scorer), each route's verdicts are stored under the route's column;
any other judge is one route, its `name`, over all prompts (`routes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch

from unigap.config import Config
from unigap.records import Judgment, Prompt
from unigap.registry import Registry


class JudgeConfig(Config):
    """One `judges:` entry. `name` is a registry key; `options` go to the judge's constructor."""

    name: str = "oracle"
    options: dict[str, Any] = {}


@runtime_checkable
class ExternalJudge(Protocol):
    name: str  # stored as the judge column, e.g. "oracle", "qwen2.5-vl", "http:gpt-4o"

    def judge(self, images: torch.Tensor, prompts: Sequence[Prompt]) -> list[Judgment]: ...


@dataclass(frozen=True)
class Route:
    """A share of the prompts, the judge that judges it, and the judge column its verdicts go to."""

    column: str
    judge: ExternalJudge
    prompts: list[Prompt]


def routes(judge: ExternalJudge, prompts: Sequence[Prompt]) -> list[Route]:
    """How `judge` splits `prompts` among stored columns (a plain judge: one route, all prompts)."""
    route = getattr(judge, "route", None)
    return route(prompts) if callable(route) else [Route(judge.name, judge, list(prompts))]


def judge_columns(judge: ExternalJudge) -> list[str]:
    """The judge columns `judge` writes."""
    columns = getattr(judge, "columns", None)
    return columns() if callable(columns) else [judge.name]


JUDGES: Registry = Registry(
    "judge", group="unigap.judges", legacy=lambda judge, cfg, options: judge(**options.model_dump())
)
JUDGES.register_lazy("oracle", "unigap.judges.oracle:oracle_judge")
JUDGES.register_lazy("qwen2.5-vl", "unigap.judges.qwen:qwen_judge", options="unigap.judges.options:QwenOptions")
JUDGES.register_lazy("http", "unigap.judges.http:http_judge", options="unigap.judges.options:HttpOptions")
JUDGES.register_lazy("poisoned", "unigap.judges.poisoned:poisoned_judge")
JUDGES.register_lazy(
    "geneval", "unigap.judges.geneval.judge:geneval_judge", options="unigap.judges.geneval.options:GenevalOptions"
)
JUDGES.register_lazy(
    "t2i-compbench",
    "unigap.judges.t2i_compbench.judge:t2i_compbench_judge",
    options="unigap.judges.t2i_compbench.options:T2ICompBenchOptions",
)
JUDGES.register_lazy(
    "sciscore", "unigap.judges.sciscore:sciscore_judge", options="unigap.judges.sciscore:SciScoreOptions"
)
JUDGES.register_lazy(
    "benchmark", "unigap.judges.benchmark:benchmark_judge", options="unigap.judges.benchmark:BenchmarkOptions"
)


def judge_options(cfg: JudgeConfig, where: str = "judges") -> dict[str, Any]:
    """The judge's options validated against its declared options model (errors name `where` and the key)."""
    return JUDGES.validate_options(cfg.name, cfg.options, f"{where}[{cfg.name}].options").model_dump()


def load_judge(cfg: JudgeConfig, where: str = "judges") -> ExternalJudge:
    """The judge `cfg.name` built by its registry factory from cfg and its validated options."""
    return JUDGES.create(cfg.name, cfg, f"{where}[{cfg.name}].options")
