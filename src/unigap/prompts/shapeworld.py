"""The ShapeWorld prompt suite: fixed train/eval prompts of the 9 subtasks, with their specs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from unigap.records import Prompt

if TYPE_CHECKING:
    from unigap.prompts.base import SuiteConfig
    from unigap.prompts.options import ShapeWorldOptions


def load_shapeworld(split: str = "eval", subtasks: list[str] | None = None, seed: int = 0) -> list[Prompt]:
    """Prompts of `split` ("train" or "eval") for the given subtasks (default: all, in order)."""
    from unigap import world  # imported here so listing suites stays cheap

    world.check_split(split)
    names = list(world.SUBTASKS) if subtasks is None else [world.check_subtask(s) for s in subtasks]
    out = []
    for name in names:
        for i, spec in enumerate(world.splits(name, seed)[split]):
            out.append(
                Prompt(
                    id=f"shapeworld/{name}/{split}/{i:04d}",
                    text=world.prompt_text(spec),
                    subtask=name,
                    split=split,
                    suite="shapeworld",
                    band=world.SUBTASKS[name],
                    spec=spec,
                )
            )
    return out


def shapeworld_suite(cfg: SuiteConfig, options: ShapeWorldOptions) -> list[Prompt]:
    """The registry's factory of `prompts.suite: shapeworld`."""
    return load_shapeworld(cfg.split, cfg.subtasks, **options.model_dump())
