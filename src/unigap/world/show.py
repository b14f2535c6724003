"""Image grids of ShapeWorld prompts: renders, or a model's generations with the oracle's verdict."""

from __future__ import annotations

import numpy as np
from PIL import Image

from unigap import world
from unigap.prompts.shapeworld import load_shapeworld
from unigap.records import candidate_seed
from unigap.world.grid import make_grid


def world_grid(subtask: str, n: int, split: str = "eval", model: str | None = None, model_path: str | None = None,
               seed: int = 0) -> Image.Image:
    world.check_subtask(subtask)
    prompts = load_shapeworld(split=split, subtasks=[subtask])[:n]
    if model is None:
        images = [world.render(world.realize(p.spec, np.random.default_rng([seed, i]))) for i, p in enumerate(prompts)]
        return make_grid(images, [p.text for p in prompts])
    from unigap.models.base import ModelConfig, default_sampling, load_model

    backend = load_model(ModelConfig(name=model, path=model_path))
    seeds = [candidate_seed(seed, p.id, 0) for p in prompts]
    images = list(backend.generate([p.text for p in prompts], seeds, default_sampling(backend)).images.numpy())
    verdicts = [world.oracle(img, p.spec) for img, p in zip(images, prompts)]
    captions = [f"{p.text} [{'ok' if ok else 'x: ' + why}]" for p, (ok, why) in zip(prompts, verdicts)]
    return make_grid(images, captions)
