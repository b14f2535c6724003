"""Prompt-suite registry. A suite loader takes its options and returns `Prompt` records."""

from __future__ import annotations

from typing import Any, Callable

from unigap.config import Config
from unigap.records import Prompt
from unigap.registry import Registry

SuiteLoader = Callable[..., list[Prompt]]
SUITES: Registry[SuiteLoader] = Registry("suite")
SUITES.register_lazy("shapeworld", "unigap.prompts.shapeworld:load_shapeworld")
SUITES.register_lazy("geneval", "unigap.prompts.geneval:load_geneval")
SUITES.register_lazy("t2i-compbench", "unigap.prompts.t2icompbench:load_t2icompbench")
SUITES.register_lazy("science-t2i", "unigap.prompts.sciencet2i:load_sciencet2i")
SUITES.register_lazy("custom", "unigap.prompts.custom:load_custom")
SUITES.register_lazy("paper9", "unigap.prompts.paper9:load_paper9")


class SuiteConfig(Config):
    """`prompts:` section: which suite, which split, how many per subtask."""

    suite: str = "shapeworld"
    split: str = "eval"
    subtasks: list[str] | None = None  # None = all of the suite's subtasks
    per_subtask: int | None = None  # first K prompts of each subtask (None = all)
    options: dict[str, Any] = {}


def load_prompts(cfg: SuiteConfig) -> list[Prompt]:
    prompts = SUITES.get(cfg.suite)(split=cfg.split, subtasks=cfg.subtasks, **cfg.options)
    if cfg.per_subtask is None:
        return prompts
    seen: dict[str, int] = {}
    out = []
    for p in prompts:
        if seen.get(p.subtask, 0) < cfg.per_subtask:
            out.append(p)
            seen[p.subtask] = seen.get(p.subtask, 0) + 1
    return out
