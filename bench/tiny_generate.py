"""Images/s of the tiny model's sampler with the KV cache vs recomputing the full sequence each step.

    python bench/tiny_generate.py [--batch 32] [--repeats 3] [--threads 2]

Both paths run in this process on the same prompts and noise (and produce the same tokens,
checked); the ratio is the KV cache's speed-up.
"""

from __future__ import annotations

import argparse
import time

import torch

from unigap.models.base import ModelConfig, load_model
from unigap.models.tiny.backend import gumbel_noise
from unigap.prompts.shapeworld import load_shapeworld


def timed(fn, repeats: int) -> tuple[float, torch.Tensor]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    backend = load_model(ModelConfig(name="tiny"))
    m, s = backend.model, backend.default_sampling
    prompts = [p.text for p in load_shapeworld(split="eval")[: args.batch]]
    batch = backend.fmt.gen_prompts(prompts + [None] * len(prompts))
    noise = torch.stack([gumbel_noise(i, m.cfg.n_image_tokens, m.cfg.image_vocab) for i in range(len(prompts))])

    def run(cache):
        return m.generate_images(batch.ids, batch.key_ok, noise, s.cfg_scale, s.temperature, s.top_k, cache)[0]

    t_cache, a = timed(lambda: run(True), args.repeats)
    t_full, b = timed(lambda: run(False), args.repeats)
    n = len(prompts)
    print(f"tiny model, {n} images x {m.cfg.n_image_tokens} tokens, CFG {s.cfg_scale}, {args.threads} threads")
    print(f"KV cache:          {n / t_cache:8.1f} images/s  ({t_cache:.3f} s)")
    print(f"full recompute:    {n / t_full:8.1f} images/s  ({t_full:.3f} s)")
    print(f"speed-up (cache / recompute): {t_full / t_cache:.2f}x   tokens identical: {bool(torch.equal(a, b))}")


if __name__ == "__main__":
    main()
