"""Prompt-suite registry: a suite's factory(cfg: SuiteConfig, options) returns its `Prompt` records."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field

from unigap.config import Config
from unigap.records import Prompt
from unigap.registry import Registry

SuiteFactory = Callable[..., list[Prompt]]  # factory(cfg: SuiteConfig, options) -> prompts
SUITES: Registry[SuiteFactory] = Registry(
    "suite",
    group="unigap.suites",
    legacy=lambda load, cfg, options: load(split=cfg.split, subtasks=cfg.subtasks, **options.model_dump()),
)
SUITES.register_lazy(
    "shapeworld", "unigap.prompts.shapeworld:shapeworld_suite", options="unigap.prompts.options:ShapeWorldOptions"
)
SUITES.register_lazy("geneval", "unigap.prompts.geneval:geneval_suite", options="unigap.prompts.options:FileOptions")
SUITES.register_lazy(
    "t2i-compbench", "unigap.prompts.t2i_compbench:t2i_compbench_suite", options="unigap.prompts.options:FileOptions"
)
SUITES.register_lazy(
    "science-t2i", "unigap.prompts.science_t2i:science_t2i_suite", options="unigap.prompts.options:FileOptions"
)
SUITES.register_lazy("custom", "unigap.prompts.custom:custom_suite", options="unigap.prompts.options:CustomOptions")
SUITES.register_lazy("paper9", "unigap.prompts.paper9:paper9_suite", options="unigap.prompts.options:Paper9Options")


class SuiteConfig(Config):
    """`prompts:` section: which suite, which split, how many per subtask."""

    suite: str = "shapeworld"
    split: str = "eval"
    subtasks: list[str] | None = None  # None = all of the suite's subtasks
    per_subtask: int | None = Field(None, ge=1)  # first K prompts of each subtask (None = all)
    options: dict[str, Any] = {}


def suite_options(cfg: SuiteConfig, where: str = "prompts") -> dict[str, Any]:
    return SUITES.validate_options(cfg.suite, cfg.options, f"{where}.options").model_dump()


def load_prompts(cfg: SuiteConfig, where: str = "prompts") -> list[Prompt]:
    """The suite's prompts (first `per_subtask` of each subtask); an empty result is an error naming `where`."""
    from unigap.errors import ConfigError

    prompts = SUITES.create(cfg.suite, cfg, f"{where}.options")
    if not prompts:
        raise ConfigError(
            f"{where}: suite {cfg.suite!r} (split {cfg.split!r}, subtasks {cfg.subtasks or 'all'}) gave no prompts"
        )
    if cfg.per_subtask is None:
        return prompts
    seen: dict[str, int] = {}
    out = []
    for p in prompts:
        if seen.get(p.subtask, 0) < cfg.per_subtask:
            out.append(p)
            seen[p.subtask] = seen.get(p.subtask, 0) + 1
    return out
