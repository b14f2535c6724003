"""Show-o at its real dimensions on CPU, random weights, through the whole unigap loop.

    flock /tmp/unigap-bigmem.lock python bench/showo_realsize.py [--steps 2] [--threads 2]
        [--work /tmp/showo_realsize] [--json bench/results/showo_realsize.json]

Real dimensions = showlab/show-o (256 px): Phi-1.5 (24 layers, hidden 2048, 32 heads, MLP 8192)
with the vocabulary resized to 58,498, 256 image tokens, the official MAGVIT-v2 (8,192 codes).
Weights are random (nothing can be downloaded; speed and memory do not depend on their values),
written in bf16 by `unigap model synthetic showo --size real` and loaded in fp32 on the CPU.
Each stage runs as its own process so that its peak RSS is its own (os.wait4):
  synthetic  write the checkpoint
  load       load_model alone
  audit      `unigap audit`: 1 prompt x 1 candidate, guidance 1.75, --steps decoding steps,
             self-judge in prob mode (threshold 0: the random model's image is accepted)
  curate     `unigap curate` (rule all_accepted)
  improve    `unigap improve` with configs/sft_showo.yaml: 1 epoch, LoRA r 8 (full AdamW on
             1.4B fp32 parameters needs ~22 GB: more than this shared 24 GB machine has free)
  step       one decoding step (cond + uncond rows in one forward), ours (head on the M image
             positions x K codebook rows) against the baseline the official t2i_generate does
             (lm_head over all L positions and the whole vocabulary, then slice); MAGVIT-v2
             decode of one image; one greedy answer token with and without the KV cache.
The official 256 px inference runs 18 steps; s/image at 18 steps is extrapolated from the
measured step time (labelled "estimate"). No GPU is lent to this task: GPU figures not measured.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "a photo of a red apple on a wooden table"


def run_rss(cmd: list[str], threads: int) -> dict:
    """Like run, but with the child's peak RSS from wait4."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    t = time.perf_counter()
    logf = Path(os.environ.get("TMPDIR", "/tmp")) / "showo_bench.log"
    with logf.open("w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    text = logf.read_text()
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"failed: {' '.join(cmd)}\n{text[-3000:]}")
    return {
        "wall_s": round(wall, 1),
        "peak_rss_gib": round(usage.ru_maxrss / 2**20, 2),
        "log": text.strip().splitlines()[-2:],
    }


STEP_CODE = r"""
import json, sys, time, torch
from unigap.models.base import ModelConfig, load_model
from unigap.models.showo.model import attn_mask, t2i_mask
b = load_model(ModelConfig(name="showo", path=sys.argv[1], device="cpu", dtype="fp32"))
lay, m = b.layout, b.num_image_tokens
rows = lay.t2i_rows([sys.argv[2], ""], torch.full((2, m), lay.mask_id))
mask = attn_mask(t2i_mask(rows, lay.pad, lay.tid("<|soi|>"), lay.tid("<|eoi|>")))
sl, lo = lay.image_slice(), lay.text_vocab
def ours():
    h = b.model.hidden(rows, mask)[:, sl]
    return b.model.head(h, lo, lo + lay.codebook)
def official():  # logits for every position and the whole vocabulary, sliced afterwards
    h = b.model.hidden(rows, mask)
    return b.model.llm.lm_head(h)[:, -(m + 1):-1, lo:-1]
def timed(f, n=2):
    f(); t = time.perf_counter()
    for _ in range(n): out = f()
    return (time.perf_counter() - t) / n, out
with torch.no_grad():
    t_ours, a = timed(ours); t_off, c = timed(official)
    assert torch.allclose(a, c, atol=1e-3)
    codes = torch.randint(0, lay.codebook, (1, m))
    t_vq, _ = timed(lambda: b.model.vq.decode(codes), 1)
    from unigap.models.showo.text import greedy, last_logits
    img = b.decode(codes)
    batch = b._batch(b._rows(img, ["Does this image describe a red apple?"]))
    t_cache, _ = timed(lambda: greedy(b.model, batch, 4, -1), 1)
    t_full, _ = timed(lambda: last_logits(b.model, batch), 1)
print(json.dumps({"step_ours_s": t_ours, "step_official_slicing_s": t_off, "magvit_decode_s": t_vq,
                  "answer_4_tokens_cached_s": t_cache, "one_full_recompute_s": t_full,
                  "params": sum(p.numel() for p in b.model.parameters())}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path("/tmp/showo_realsize"))
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "showo_realsize.json")
    a = ap.parse_args()
    py, w = sys.executable, a.work
    w.mkdir(parents=True, exist_ok=True)
    ckpt, run_dir, data, sft = w / "ckpt", w / "run", w / "data", w / "sft"
    (w / "prompts.txt").write_text(PROMPT + "\n")
    res: dict = {"steps_measured": a.steps, "threads": a.threads}
    uni = [py, "-m", "unigap"]
    if not (ckpt / "pytorch_model.safetensors").exists():
        res["synthetic"] = run_rss(
            uni + ["model", "synthetic", "showo", "--size", "real", "--out", str(ckpt)], a.threads
        )
    res["load"] = run_rss(
        [
            py,
            "-c",
            "import sys; from unigap.models.base import ModelConfig, load_model; "
            "load_model(ModelConfig(name='showo', path=sys.argv[1], device='cpu', dtype='fp32'))",
            str(ckpt),
        ],
        a.threads,
    )
    common = [f"model.path={ckpt}", "model.device=cpu", "model.dtype=fp32"]
    res["audit"] = run_rss(
        uni
        + [
            "audit",
            "--config",
            str(ROOT / "configs" / "audit_showo.yaml"),
            "--out",
            str(run_dir),
            *common,
            f"model.options={{steps: {a.steps}}}",
            "prompts.suite=custom",
            f"prompts.options={{path: {w / 'prompts.txt'}}}",
            "n=1",
            "self_judge.mode=prob",
            "self_judge.threshold=0.0",
            "judges=[]",
            "n_boot=10",
            "chunk_size=1",
            "model.batch_size=1",
        ],
        a.threads,
    )
    res["curate"] = run_rss(
        uni + ["curate", str(run_dir), "--out", str(data), "rule=all_accepted", "split=null"], a.threads
    )
    res["improve"] = run_rss(
        uni
        + [
            "improve",
            "--config",
            str(ROOT / "configs" / "sft_showo.yaml"),
            "--data",
            str(data),
            "--out",
            str(sft),
            *common,
            'mixed_precision="no"',
            "gradient_checkpointing=false",
            "epochs=1",
            "train_batch_size=1",
            "grad_accum=1",
            "allow_eval_prompts=true",
            "curriculum.mode=none",
            "lora={r: 8, alpha: 16, target_modules: [q_proj, k_proj, v_proj, dense]}",
        ],
        a.threads,
    )
    step = subprocess.run(
        [py, "-c", STEP_CODE, str(ckpt), PROMPT],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": str(a.threads)},
    )
    if step.returncode:
        raise SystemExit(step.stderr[-3000:])
    res["step"] = json.loads(step.stdout.strip().splitlines()[-1])
    s = res["step"]
    res["s_per_image_measured"] = round(res["audit"]["wall_s"] - res["load"]["wall_s"], 1)
    res["s_per_image_18_steps_estimate"] = round(res["s_per_image_measured"] + (18 - a.steps) * s["step_ours_s"], 1)
    res["step_speedup_vs_official_slicing"] = round(s["step_official_slicing_s"] / s["step_ours_s"], 2)
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
