"""Image grids of ShapeWorld prompts, rendered exactly (a model's generations: unigap.models.eval.generation_grid)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from unigap import world
from unigap.world.grid import make_grid


def world_grid(subtask: str, n: int, split: str = "eval", seed: int = 0) -> Image.Image:
    """The first n prompts of a subtask's split (the ShapeWorld suite's order), each rendered from a scene seeded
    by (seed, i), captioned with its text."""
    world.check_subtask(subtask)
    specs = world.splits(subtask)[world.check_split(split)][:n]
    images = [world.render(world.realize(s, np.random.default_rng([seed, i]))) for i, s in enumerate(specs)]
    return make_grid(images, [world.prompt_text(s) for s in specs])
