"""GRPO speed on CPU, with SFT's step measured in the same run as the baseline (issue 24, "Speed").

    python bench/grpo_speed.py [--steps 6] [--janus-layers 2] [--janus-side 64] [--group 4] [--threads 2]
                               [--json bench/results/methods_speed.json]

1. tiny (the shipped ShapeWorld model): `unigap improve` with method grpo for --steps steps of B = 8
   prompts x G = 8 candidates (self reward, beta 0.01; the step split into generate / reward / the rest
   of sampling / training), then method sft for as many optimizer steps of 64 rows (8 images of each
   of the same prompts); seconds per step, steps/s and samples/s.
2. Janus-Pro-1B widths (hidden 2048, 16 heads, MLP 5632, text vocabulary 102,400, codebook 16,384,
   SigLIP-L vision tower 1024 x 24 layers) with --janus-layers of the 24 LLM layers and --janus-side-px
   images (64 px = 16 image tokens; the real 384 px = 576 tokens would take hours per group on this
   CPU: bench/results/realsize_audit_janus.json measured 436 s per image with 1 layer), random weights:
   one group of G = --group candidates, its seconds split into generate / reward (self: P(match),
   a vision + LLM forward) / the loss's forward + backward + AdamW step; and the SFT step (forward +
   backward + AdamW step) on the same G images, after a warm-up step that allocates AdamW's state
   (the two steps timed 3 times alternating; medians).
   Labelled as measured; nothing is extrapolated. No GPU is used (none is lent to this task).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def tiny_data(out: Path, n_prompts: int, per_prompt: int) -> Path:
    """Curated data of the shipped model's own images for the first train prompts (`per_prompt` each)."""
    import json as _json

    from unigap.curation.dataset import MANIFEST, PROMPTS, _write, write_prompts
    from unigap.models.base import ModelConfig, default_sampling, load_model
    from unigap.prompts.shapeworld import load_shapeworld
    from unigap.store.images import encode_png

    model = load_model(ModelConfig(name="tiny"))
    prompts = load_shapeworld(split="train")[:: max(1, 360 // n_prompts)][:n_prompts]
    rows_p = [p for p in prompts for _ in range(per_prompt)]
    gen = model.generate([p.text for p in rows_p], list(range(len(rows_p))), default_sampling(model))
    rows = [
        {
            "prompt": p.text,
            "prompt_id": p.id,
            "subtask": p.subtask,
            "band": p.band,
            "tokens": t.tolist(),
            "image": {"bytes": encode_png(img.numpy())},
        }
        for p, t, img in zip(rows_p, gen.tokens, gen.images)
    ]
    out.mkdir(parents=True, exist_ok=True)
    _write(rows, out / "sft.parquet", ("image",))
    _write([], out / "dpo.parquet", ("chosen", "rejected"))
    _write([], out / "discard.parquet", ())
    write_prompts(out / PROMPTS, prompts)
    (out / MANIFEST).write_text(
        _json.dumps(
            {
                "curate": {"rule": "all_accepted"},
                "splits": ["train"],
                "run_dir": None,
                "fingerprint": model.fingerprint(),
                "counts": {},
            }
        )
    )
    return out


def bench_tiny(steps: int, work: Path) -> dict:
    """GRPO steps (B x G samples each) and SFT steps of as many rows (one epoch, one commit at its end);
    per-step seconds from steps.csv (GRPO) and from the loop's per-micro-batch callback (SFT)."""
    from unigap.models.base import ModelConfig
    from unigap.training.config import GrpoOptions, ImproveConfig
    from unigap.training.improve import improve

    b, g = 8, 8
    data = tiny_data(work / "data", b * steps, g)
    grpo = ImproveConfig(
        method="grpo",
        model=ModelConfig(name="tiny"),
        epochs=1,
        train_batch_size=b * g,
        lr=1e-4,
        grpo=GrpoOptions(group_size=g, save_every=10**6),
    )
    t0 = time.perf_counter()
    rows = improve(grpo, data, work / "grpo", log=lambda m: None)["steps"]
    grpo_s = time.perf_counter() - t0
    sft = ImproveConfig(method="sft", model=ModelConfig(name="tiny"), epochs=1, train_batch_size=b * g, lr=1e-4)
    stamps = [time.perf_counter()]
    t0 = stamps[0]
    improve(sft, data, work / "sft", log=lambda m: None, on_batch=lambda n: stamps.append(time.perf_counter()))
    sft_s = time.perf_counter() - t0
    sft_steps = [b2 - a for a, b2 in zip(stamps[1:], stamps[2:])]  # forward+backward+step between callbacks
    split = {
        k: round(float(np.mean([r["seconds"][k] for r in rows])), 3) for k in ("generate", "reward", "sample", "train")
    }
    return {
        "model": "tiny (shipped)",
        "B": b,
        "G": g,
        "grpo_steps": len(rows),
        "grpo_wall_s": round(grpo_s, 1),
        "grpo_step_s": round(split["sample"] + split["train"], 3),
        "grpo_steps_per_s": round(1 / (split["sample"] + split["train"]), 3),
        "grpo_samples_per_s": round(b * g / (split["sample"] + split["train"]), 1),
        "grpo_step_split_s": split,
        "sft_rows_per_step": b * g,
        "sft_steps": len(sft_steps) + 1,
        "sft_wall_s": round(sft_s, 1),
        "sft_step_s": round(float(np.median(sft_steps)), 3),
        "note": "wall includes loading the model, the checks and the commits; step figures exclude them",
    }


def bench_janus(layers: int, side: int, group: int, work: Path) -> dict:
    import torch

    from unigap.models.base import ModelConfig, SamplingConfig, load_model
    from unigap.models.janus.synthetic import JanusDims, build_synthetic
    from unigap.records import Prompt
    from unigap.training.config import RewardConfig
    from unigap.training.losses import group_advantages, grpo_token_loss
    from unigap.training.objectives.offline import sft_loss
    from unigap.training.rewards import Models, Rewards, Samples
    from unigap.training.trainer import freeze

    dims = JanusDims(2048, 5632, layers, 16, 16, 102400, 16384, side, 16, 1024, 24, 16)
    t0 = time.perf_counter()
    path = build_synthetic(dims, seed=0, dtype=torch.float32).save(work / "janus")
    write_s = time.perf_counter() - t0
    model = load_model(ModelConfig(name="janus", path=str(path), dtype="fp32", batch_size=group))
    params = freeze(model, ["llm"])
    prompt = Prompt(id="p0", text="a red circle above a blue square", subtask="s", split="train", suite="t")
    out = {
        "model": f"Janus-Pro-1B widths, {layers} of 24 LLM layers, {side} px ({dims.num_image_tokens} image tokens)",
        "params": sum(p.numel() for p in model.module().parameters()),
        "write_s": round(write_s, 1),
        "G": group,
    }
    t = time.perf_counter()
    gen = model.generate([prompt.text] * group, list(range(group)), SamplingConfig())
    out["generate_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    rewards, _ = Rewards([RewardConfig(name="self")], Models(model, lambda: model))(
        Samples(gen.tokens, gen.images, [prompt] * group)
    )
    out["reward_s"] = round(time.perf_counter() - t, 2)
    adv, _ = group_advantages(torch.tensor(rewards), group, True)
    opt = torch.optim.AdamW(params, lr=1e-6)
    texts = [prompt.text] * group
    sft_loss(model.image_logprobs(texts, gen.tokens), model.num_image_tokens).backward()  # warm-up: AdamW's state
    opt.step()
    opt.zero_grad(set_to_none=True)

    def grpo_step() -> None:
        logp = model.image_token_logprobs(texts, gen.tokens).float()
        grpo_token_loss(logp, logp.detach(), None, adv, 0.2, 0.0)[0].mean().backward()

    def sft_step() -> None:
        sft_loss(model.image_logprobs(texts, gen.tokens), model.num_image_tokens).backward()

    times: dict[str, list[float]] = {"grpo": [], "sft": []}
    for _ in range(3):  # alternating, medians: the machine's load moves between measurements
        for name, fn in (("grpo", grpo_step), ("sft", sft_step)):
            t = time.perf_counter()
            fn()
            opt.step()
            opt.zero_grad(set_to_none=True)
            times[name].append(time.perf_counter() - t)
    out["forward_backward_s"] = round(float(np.median(times["grpo"])), 2)  # loss forward + backward + AdamW step
    out["sft_step_s"] = round(float(np.median(times["sft"])), 2)  # the same G images, SFT's loss
    out["repeats_s"] = {k: [round(v, 2) for v in vs] for k, vs in times.items()}
    out["group_s"] = round(out["generate_s"] + out["reward_s"] + out["forward_backward_s"], 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--janus-layers", type=int, default=2)
    ap.add_argument("--janus-side", type=int, default=64)
    ap.add_argument("--group", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-janus", action="store_true")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "methods_speed.json")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    result = {
        "device": "cpu",
        "threads": args.threads,
        "nproc": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
        "gpu": "not measured (no device lent to this task)",
    }
    with tempfile.TemporaryDirectory() as tmp:
        result["tiny"] = bench_tiny(args.steps, Path(tmp) / "tiny")
        print(json.dumps(result["tiny"], indent=1), flush=True)
        if not args.skip_janus:
            result["janus_1b_widths"] = bench_janus(args.janus_layers, args.janus_side, args.group, Path(tmp) / "j")
            print(json.dumps(result["janus_1b_widths"], indent=1), flush=True)
    result["loadavg_end"] = os.getloadavg()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
