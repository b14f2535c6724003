"""Real-size audits on CPU: Janus-Pro-1B and EMU3 dimensions, random weights, through `unigap audit`.

    flock /tmp/unigap-bigmem.lock python bench/realsize_audit.py [--models janus-1b,emu3] [--janus-layers 24]
        [--emu3-layers 4] [--emu3-side 64] [--n 2] [--dtype fp32] [--threads 2]
        [--json bench/results/realsize_audit.json]

For each model: write a random-weight checkpoint with the real dimensions in bf16 (nothing is
downloaded; decode cost does not depend on weight values), loaded in --dtype (fp32 by default:
without bf16 matmul units, bf16 runs ~20x slower than fp32 on this CPU), then run, each as its own process
so that its peak RSS is its own (os.wait4):
  1. `load`: the audit's model loading alone (python -c load_model) -> load seconds, RSS;
  2. `audit`: `python -m unigap audit --config C --out RUN` with one ShapeWorld prompt x N
     candidates, self-judge in prob mode, no external judge -> wall seconds, peak RSS.
s/image = (audit wall - load wall) / N (generation + self-judgment of one candidate).
Baseline, measured in the same run on the same checkpoint: transformers' own `generate` for one
image (Janus: generation_mode="image"; EMU3: the docs' prefix_allowed_tokens_fn + negative-prompt
CFG), against one image of our decode loop in that process.

EMU3 at full size is 8.5B parameters (17 GB in bf16) and a 720-px image is 8,190 decode steps: on
a 24 GiB, 2-core machine shared with other jobs that does not fit beside anything else and would
take hours per image. Measured instead, and labelled so: the real widths (hidden 4096, 32 heads /
8 KV heads, MLP 14336, vocabulary 184,622, codebook 32,768, the real VQ) with `--emu3-layers` of
the 32 decoder layers and `--emu3-side`-px images (64 px = 8 x 8 tokens = 71 steps); nothing
is extrapolated (per-step cost here is dominated by the heads and by machine load, not layers).
No GPU is used (none is lent to this task): GPU figures are not measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def run_measured(cmd: list[str], env: dict) -> dict:
    """Run cmd; wall seconds, peak RSS (GiB) of that process alone, exit status, output tail."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    out = p.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return {
        "wall_s": round(time.perf_counter() - t0, 2),
        "peak_rss_gib": round(usage.ru_maxrss / 2**20, 2),
        "rc": p.returncode,
        "tail": out[-1500:],
    }


def write_checkpoint(model: str, out: Path, layers: int, side: int, janus_layers: int) -> dict:
    import torch

    t0 = time.perf_counter()
    if model == "janus-1b":
        from unigap.models.janus.synthetic import PRESETS, build_synthetic

        old = torch.get_default_dtype()
        torch.set_default_dtype(torch.bfloat16)  # built in bf16 directly: no fp32 copy at build time
        try:
            s = build_synthetic(dataclasses.replace(PRESETS["1b"], layers=janus_layers), dtype=torch.bfloat16)
        finally:
            torch.set_default_dtype(old)
        note = (
            f"Janus-Pro-1B dims, {janus_layers} of 24 LLM layers (vision tower, VQ, heads in full; 384 px, 576 tokens)"
        )
    else:
        from unigap.models.emu3.synthetic import PRESETS, build_synthetic

        dims = dataclasses.replace(PRESETS["real"], layers=layers, image_side=side)
        s = build_synthetic(dims, dtype=torch.bfloat16, init_std=None)
        note = (
            f"EMU3 real widths, {layers} of 32 decoder layers, {side} px = "
            f"{(side // 8) ** 2} tokens ({(side // 8) * (side // 8 + 1) - 1} steps) instead of 720 px (8,190 steps)"
        )
    params = sum(p.numel() for p in s.model.parameters())
    s.save(out)
    del s
    return {"params": params, "note": note, "write_s": round(time.perf_counter() - t0, 1)}


def audit_config(model: str, ckpt: Path, n: int, dtype: str) -> dict:
    name = "janus" if model == "janus-1b" else "emu3"
    return {
        "model": {"name": name, "path": str(ckpt), "dtype": dtype, "batch_size": 1},
        "prompts": {"suite": "shapeworld", "subtasks": ["single_object"], "per_subtask": 1},
        "n": n,
        "sampling": {"cfg_scale": 5.0 if name == "janus" else 3.0, "temperature": 1.0, "top_k": 0},
        "self_judge": {"mode": "prob"},
        "judges": [],
        "chunk_size": n,
        "n_boot": 10,
    }


def baseline(model: str, ckpt: Path, threads: int, dtype: str) -> dict:
    """One image from transformers' generate vs one from our loop, same process and checkpoint."""
    code = f"""
import json, time, torch
torch.set_num_threads({threads})
from unigap.models.base import ModelConfig, SamplingConfig
name = {"janus" if model == "janus-1b" else "emu3"!r}
cfg = ModelConfig(name=name, path={str(ckpt)!r}, dtype={dtype!r}, batch_size=1)
s = SamplingConfig(cfg_scale=3.0, temperature=1.0, top_k=0)
if name == "janus":
    from unigap.models.janus.backend import load_janus as load
else:
    from unigap.models.emu3.backend import load_emu3 as load
b = load(cfg)
t0 = time.perf_counter(); b.generate_tokens(["a red circle"], [0], s); ours = time.perf_counter() - t0
t0 = time.perf_counter()
if name == "janus":
    from unigap.models.janus.decode import left_pad
    from unigap.models.janus.hf_reference import hf_image_generate
    from unigap.models.janus.text import generation_rows
    ids, valid = left_pad(generation_rows(b.processor, ["a red circle"]), b.special.pad)
    try:
        hf_image_generate(b.model, ids, valid.long(), b.special, do_sample=True, guidance_scale=3.0, top_k=0)
    except TypeError:
        hf_image_generate(b.model, ids, valid.long(), b.special, dynamic_cache=True, do_sample=True,
                          guidance_scale=3.0, top_k=0)
else:
    import sys; sys.path.insert(0, "tests/models/emu3")
    from test_emu3_decode import hf_generate
    hf_generate(b, ["a red circle"], do_sample=True, guidance_scale=3.0, top_k=0)
theirs = time.perf_counter() - t0
print("RESULT", json.dumps({{"ours_s_per_image": round(ours, 2),
                            "transformers_generate_s_per_image": round(theirs, 2)}}))
"""
    r = run_measured([sys.executable, "-c", code], dict(os.environ))
    line = next((x for x in r["tail"].splitlines() if x.startswith("RESULT ")), None)
    return {**(json.loads(line[7:]) if line else {"error": r["tail"][-600:]}), "peak_rss_gib": r["peak_rss_gib"]}


def bench_model(model: str, args: argparse.Namespace, work: Path) -> dict:
    ckpt, run = work / f"{model}_ckpt", work / f"{model}_run"
    info = write_checkpoint(model, ckpt, args.emu3_layers, args.emu3_side, args.janus_layers)
    cfg = work / f"{model}.yaml"
    cfg.write_text(yaml.safe_dump(audit_config(model, ckpt, args.n, args.dtype)))
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    name = "janus" if model == "janus-1b" else "emu3"
    load_code = (
        f"from unigap.models.base import ModelConfig, load_model; "
        f"load_model(ModelConfig(name={name!r}, path={str(ckpt)!r}, dtype={args.dtype!r}, batch_size=1))"
    )
    load = run_measured([sys.executable, "-c", load_code], env)
    audit = run_measured([sys.executable, "-m", "unigap", "audit", "--config", str(cfg), "--out", str(run)], env)
    res = {
        "model": model,
        **info,
        "n_images": args.n,
        "load": {k: load[k] for k in ("wall_s", "peak_rss_gib", "rc")},
        "audit": {k: audit[k] for k in ("wall_s", "peak_rss_gib", "rc")},
    }
    if audit["rc"] != 0:
        res["audit"]["tail"] = audit["tail"]
        return res
    res["s_per_image"] = round((audit["wall_s"] - load["wall_s"]) / args.n, 2)
    if model in args.baseline_models.split(","):
        res["baseline"] = baseline(model, ckpt, args.threads, args.dtype)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="janus-1b,emu3")
    ap.add_argument("--janus-layers", type=int, default=24)
    ap.add_argument("--emu3-layers", type=int, default=4)
    ap.add_argument(
        "--dtype",
        default="fp32",
        help="runtime dtype (checkpoints are written in bf16); this CPU "
        "has no bf16 matmul units: bf16 is ~20x slower than fp32 here",
    )
    ap.add_argument("--emu3-side", type=int, default=64)
    ap.add_argument("--n", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--baseline-models",
        default="janus-1b,emu3",
        help="models for which transformers' generate is timed as well ('' = none)",
    )
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "realsize_audit.json")
    args = ap.parse_args()
    results = {
        "device": "cpu",
        "gpu": "not measured (no device lent to this task)",
        "threads": args.threads,
        "nproc": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
        "models": [],
    }
    with tempfile.TemporaryDirectory(prefix="unigap_realsize_") as tmp:
        for model in args.models.split(","):
            r = bench_model(model, args, Path(tmp))
            print(json.dumps(r), flush=True)
            results["models"].append(r)
    results["loadavg_end"] = os.getloadavg()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
