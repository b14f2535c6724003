"""Audit throughput of the shipped tiny model: candidates/s, and judgments/s in both self-judge modes.

    python bench/audit.py [--prompts-per-subtask 10] [--n 4] [--threads 2]

Generation, parse-mode judging (greedy text answer) and prob-mode judging (one forward pass)
run on the same prompts and images in this process; the last line compares the two modes.
"""

from __future__ import annotations

import argparse
import time

import torch

from unigap.models.base import ModelConfig, SelfJudgeConfig, default_sampling, load_model
from unigap.prompts.shapeworld import load_shapeworld
from unigap.records import candidate_seed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts-per-subtask", type=int, default=10)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(ModelConfig(name="tiny"))
    prompts = [p for s in range(9) for p in load_shapeworld(split="eval")[s * 100 : s * 100 + args.prompts_per_subtask]]
    texts = [p.text for p in prompts for _ in range(args.n)]
    seeds = [candidate_seed(0, p.id, i) for p in prompts for i in range(args.n)]
    t0 = time.perf_counter()
    images = model.generate(texts, seeds, default_sampling(model)).images
    t_gen = time.perf_counter() - t0
    rates = {}
    for mode in ("parse", "prob"):
        t0 = time.perf_counter()
        model.judge(images, texts, SelfJudgeConfig(mode=mode))
        rates[mode] = len(texts) / (time.perf_counter() - t0)
    print(f"tiny model, {len(texts)} candidates ({len(prompts)} prompts x N={args.n}), {args.threads} threads")
    print(f"generate:            {len(texts) / t_gen:8.1f} candidates/s")
    print(f"self-judge (parse):  {rates['parse']:8.1f} judgments/s")
    print(f"self-judge (prob):   {rates['prob']:8.1f} judgments/s")
    print(f"prob / parse speed-up: {rates['prob'] / rates['parse']:.2f}x")


if __name__ == "__main__":
    main()
