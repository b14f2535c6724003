"""Speed of the ShapeWorld oracle (parse the pixels + match the spec) per image, against a named
baseline measured in the same run: rendering the same scene (what producing a ground-truth image costs).

    python bench/oracle_speed.py [--subtask complex] [--images 50] [--repeats 20]

Prints ms per call of each and the ratio oracle / render. The audit judges every candidate with
the oracle, so the oracle should cost no more than a few renders (it was ~0.3 ms per call when
this was a unit-test bound of 5 ms).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from unigap import world


def per_call_ms(fn: Callable[[int], object], n: int, repeats: int) -> float:
    """Median over `repeats` of the mean ms of fn(0..n-1)."""
    fn(0)  # warm caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(n):
            fn(i)
        times.append(1000 * (time.perf_counter() - start) / n)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subtask", default="complex")
    ap.add_argument("--images", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    world.check_subtask(args.subtask)
    rng = np.random.default_rng(0)
    specs = [world.sample_spec(args.subtask, rng) for _ in range(args.images)]
    scenes = [world.realize(s, rng) for s in specs]
    images = [world.render(s) for s in scenes]
    oracle = per_call_ms(lambda i: world.oracle(images[i], specs[i]), args.images, args.repeats)
    render = per_call_ms(lambda i: world.render(scenes[i]), args.images, args.repeats)
    print(f"subtask {args.subtask}, {args.images} images x {args.repeats} repeats (median of repeats)")
    print(f"  baseline world.render(scene):  {render:.3f} ms per image")
    print(f"  world.oracle(image, spec):     {oracle:.3f} ms per image  ({oracle / render:.1f}x the render)")


if __name__ == "__main__":
    main()
