"""A model on ShapeWorld. `unigap model eval`: does it understand better than it generates, per subtask?
`unigap world show --model`: a grid of its generations with the oracle's verdict (`generation_grid`).

Works for any UnifiedModel (the oracle scores generations, renders test understanding); a tiny
checkpoint's card figures are written by `unigap.models.tiny.eval.record_eval_in_card`.

generation_accuracy: one image per eval prompt (candidate 0 of seed S), judged by the oracle.
understanding_accuracy: the paper's question about renders, half matching the prompt and half
a minimal counterfactual; the model's parsed verdict must equal the truth (unparsed = wrong).
Band and overall values are unweighted means over subtasks, as in the paper.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from PIL import Image

from unigap import world
from unigap.models.base import ModelConfig, SamplingConfig, SelfJudgeConfig, UnifiedModel, default_sampling, load_model
from unigap.prompts.shapeworld import load_shapeworld
from unigap.records import Prompt, candidate_seed
from unigap.world.grid import make_grid

Progress = Callable[[str, int], None]


def generation_accuracy(model: UnifiedModel, prompts: list[Prompt], seed: int, sampling: SamplingConfig) -> list[int]:
    seeds = [candidate_seed(seed, p.id, 0) for p in prompts]
    images = model.generate([p.text for p in prompts], seeds, sampling).images.numpy()
    return [int(world.oracle(img, p.spec)[0]) for img, p in zip(images, prompts)]


def understanding_items(prompts: list[Prompt], seed: int) -> tuple[np.ndarray, list[str], list[int]]:
    """A matching render and a counterfactual render per prompt: images (2K, H, W, 3), texts, truth."""
    images, texts, truth = [], [], []
    for p in prompts:
        rng = np.random.default_rng([seed, int(p.id.rsplit("/", 1)[-1])])
        scene = world.realize(p.spec, rng)
        images += [world.render(scene), world.render(world.counterfactual(p.spec, scene, rng))]
        texts += [p.text, p.text]
        truth += [1, 0]
    return np.stack(images), texts, truth


def understanding_accuracy(model: UnifiedModel, prompts: list[Prompt], seed: int) -> list[int]:
    images, texts, truth = understanding_items(prompts, seed)
    verdicts = model.judge(torch.from_numpy(images), texts, SelfJudgeConfig(mode="parse"))
    return [int(j.verdict == t) for j, t in zip(verdicts, truth)]


def summarise(per_subtask: dict[str, dict]) -> dict:
    """Add band and overall rows: unweighted means of the subtask values."""
    keys = ("generation_accuracy", "understanding_accuracy")
    bands = {}
    for band in world.BANDS:
        rows = [r for r in per_subtask.values() if r["band"] == band]
        if rows:
            bands[band] = {k: float(np.mean([r[k] for r in rows])) for k in keys} | {"n": sum(r["n"] for r in rows)}
    overall = {k: float(np.mean([r[k] for r in per_subtask.values()])) for k in keys}
    return {
        "subtasks": per_subtask,
        "bands": bands,
        "overall": overall | {"n": sum(r["n"] for r in per_subtask.values())},
    }


def evaluate(
    model: UnifiedModel,
    per_subtask: int = 40,
    seed: int = 0,
    subtasks: list[str] | None = None,
    sampling: SamplingConfig | None = None,
    progress: Progress | None = None,
) -> dict:
    sampling = sampling or SamplingConfig()
    rows: dict[str, dict] = {}
    for name in subtasks or list(world.SUBTASKS):
        prompts = load_shapeworld(split="eval", subtasks=[name])[:per_subtask]
        gen = generation_accuracy(model, prompts, seed, sampling)
        und = understanding_accuracy(model, prompts, seed)
        rows[name] = {
            "band": world.SUBTASKS[name],
            "generation_accuracy": float(np.mean(gen)),
            "understanding_accuracy": float(np.mean(und)),
            "n": len(prompts),
        }
        if progress:
            progress(name, len(prompts))
    return summarise(rows)


def generation_grid(
    subtask: str, n: int, split: str, model: str, model_path: str | None = None, seed: int = 0
) -> Image.Image:
    """The first n prompts of a subtask's split, one generation each (candidate 0 of `seed`, the model's own
    sampling), captioned with the prompt and the oracle's verdict ("ok", or "x: " and why)."""
    world.check_subtask(subtask)
    prompts = load_shapeworld(split=split, subtasks=[subtask])[:n]
    backend = load_model(ModelConfig(name=model, path=model_path))
    seeds = [candidate_seed(seed, p.id, 0) for p in prompts]
    images = list(backend.generate([p.text for p in prompts], seeds, default_sampling(backend)).images.numpy())
    verdicts = [world.oracle(img, p.spec) for img, p in zip(images, prompts)]
    captions = [f"{p.text} [{'ok' if ok else 'x: ' + why}]" for p, (ok, why) in zip(prompts, verdicts)]
    return make_grid(images, captions)
