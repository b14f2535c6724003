"""unigap on one GPU in one table: random weights at the real dimensions, nothing downloaded.

    bash bench/gpu_check.sh                  # one H100/H200: each section in its own process, < 10 min
    bash bench/gpu_check.sh --tiny           # CPU, tiny dims, seconds: checks the whole script runs
    python bench/gpu_check.py [--tiny] [--section NAME ...] [--json PATH]  # sections in this process
    python bench/gpu_check.py --table --json PATH [--status FILE]          # the table of a JSON file

Sections (one or two table rows each); each is measured twice where a first call warms up
(CUDA graphs capture, kernels), and the second is reported:
  janus-1b, janus-7b   Janus-Pro-1B / 7B dimensions (synthetic PRESETS), bf16. Candidates/s
                       (generation + VQ decode) of our decode loop (CUDA graphs) and of transformers'
                       generate(generation_mode="image") on the same 32 prompts, CFG 5, in the same
                       process (bench/janus_decode.py's measurement; when transformers' default
                       generate crashes, as 5.17 does, the same loop with a DynamicCache is reported,
                       labelled). Self-judge judgments/s on 32 of the images, prob and parse modes.
  showo-256, showo-512 Show-o at the official settings: 256 px = 256 tokens, 18 steps, guidance 1.75;
                       512 px = 1,024 tokens, 50 steps, guidance 5 (Phi-1.5, MAGVIT-v2 8,192 codes;
                       the 512 checkpoint differs only in num_vq_tokens). Images/s at batch 16 / 8.
  sft-7b               one SFT step (image-token NLL, backward, clip, AdamW step) on the Janus-Pro-7B
                       dimensions in bf16 (weights, gradients and AdamW states; trainable: the LLM,
                       6.9B), gradient checkpointing, micro-batch 8 (configs/sft_janus_pro_7b.yaml's
                       32 rows over 4 GPUs): seconds per step and peak memory. One process, no FSDP.
--tiny: the same code with tiny dims on the CPU in fp32 (Show-o: 2 steps): a run check, not figures.
Every section reports its error and the others still run; results go to --json after each section.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/janus_decode.py, bench/timing.py

from timing import peak_gb, reset_peak, timed  # noqa: E402

SECTIONS = ("janus-1b", "janus-7b", "showo-256", "showo-512", "sft-7b")


@dataclasses.dataclass(frozen=True)
class Settings:
    tiny: bool
    device: str
    prompts: int = 32  # Janus candidates per measured call
    judge: int = 32  # images per self-judge call
    showo_batch: dict = dataclasses.field(default_factory=lambda: {256: 16, 1024: 8})
    sft_batch: int = 8

    @property
    def dtype(self) -> torch.dtype:
        return torch.bfloat16 if self.device == "cuda" else torch.float32


def settings(tiny: bool) -> Settings:
    device = "cuda" if torch.cuda.is_available() and not tiny else "cpu"
    if tiny:
        return Settings(True, device, prompts=4, judge=4, showo_batch={256: 2, 1024: 2}, sft_batch=2)
    return Settings(False, device)


# --- sections ---------------------------------------------------------------------------------
def janus_section(size: str, s: Settings) -> dict[str, Any]:
    import janus_decode

    modes = ["cuda_graphs"] if s.device == "cuda" else ["none"]
    out = janus_decode.bench_size("tiny" if s.tiny else size, s.prompts, s.judge, modes, s.device)
    return {**out, "stands_for": size}


def write_showo(out: Path, size: str, tokens: int) -> None:
    """`unigap model synthetic showo --size SIZE`, with `tokens` image tokens (1,024 = show-o-512x512)."""
    from unigap.models.showo import synthetic

    spec = synthetic.SIZES[size]
    if spec.num_vq_tokens == tokens:
        synthetic.write_synthetic(out, size)
        return
    name = f"{size}-{tokens}"
    synthetic.SIZES[name] = dataclasses.replace(spec, num_vq_tokens=tokens)
    try:
        synthetic.write_synthetic(out, name)
    finally:
        del synthetic.SIZES[name]


def showo_section(tokens: int, s: Settings) -> dict[str, Any]:
    from janus_decode import make_prompts

    from unigap.models.base import ModelConfig, load_model

    batch = s.showo_batch[tokens]
    with tempfile.TemporaryDirectory(prefix="gpu_check_showo") as tmp:
        write_s, _ = timed(lambda: write_showo(Path(tmp), "tiny" if s.tiny else "real", tokens))
        cfg = ModelConfig(
            name="showo", path=tmp, device=s.device, batch_size=batch, options={"steps": 2} if s.tiny else {}
        )
        load_s, backend = timed(lambda: load_model(cfg))
        prompts, seeds, sampling = make_prompts(batch), list(range(batch)), backend.default_sampling
        first_s, _ = timed(lambda: backend.generate_tokens(prompts, seeds, sampling))
        reset_peak()
        gen_s, toks = timed(lambda: backend.generate_tokens(prompts, seeds, sampling))
        vq_s, _ = timed(lambda: backend.decode(toks))
    return dict(
        tiny=s.tiny,
        B=batch,
        M=tokens,
        resolution=backend.resolution,
        steps=backend.steps,
        guidance=sampling.cfg_scale,
        dtype=str(next(backend.model.parameters()).dtype),
        write_s=round(write_s, 1),
        load_s=round(load_s, 1),
        first_call_s=round(first_s, 3),
        gen_s=round(gen_s, 3),
        vq_decode_s=round(vq_s, 3),
        img_per_s=round(batch / (gen_s + vq_s), 3),
        peak_mem_GB=peak_gb(),
    )


def sft_section(s: Settings, steps: int = 3) -> dict[str, Any]:
    from janus_decode import make_prompts

    from unigap.models.janus.backend import JanusBackend
    from unigap.models.janus.synthetic import build_synthetic
    from unigap.training.losses import sft_loss

    build_s, syn = timed(lambda: build_synthetic("tiny" if s.tiny else "7b", device=s.device, dtype=s.dtype))
    backend = JanusBackend(syn.model, syn.processor, "random:7b", batch_size=s.sft_batch)
    trainable = backend.components()["llm"]  # the paper's default: the LLM only
    for p in backend.module().parameters():
        p.requires_grad_(False)
    for p in trainable:
        p.requires_grad_(True)
    backend.enable_gradient_checkpointing()
    backend.module().train()
    opt = torch.optim.AdamW(trainable, lr=1e-5)
    m, gen = backend.num_image_tokens, torch.Generator().manual_seed(0)
    toks = torch.randint(0, syn.model.config.vq_config.num_embeddings, (s.sft_batch, m), generator=gen)
    prompts = make_prompts(s.sft_batch)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = sft_loss(backend.image_logprobs(prompts, toks), m)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        return loss.item()

    reset_peak()
    times, losses = zip(*(timed(step) for _ in range(steps)))
    assert all(map(torch.isfinite, torch.tensor(losses))), losses
    return dict(
        tiny=s.tiny,
        B=s.sft_batch,
        M=m,
        dtype=str(s.dtype),
        build_s=round(build_s, 1),
        gradient_checkpointing=True,
        trainable_B=round(sum(p.numel() for p in trainable) / 1e9, 3),
        first_step_s=round(times[0], 3),
        step_s=round(sum(times[1:]) / (steps - 1), 3),
        losses=[round(x, 4) for x in losses],
        peak_mem_GB=peak_gb(),
    )


RUNNERS: dict[str, Callable[[Settings], dict[str, Any]]] = {
    "janus-1b": lambda s: janus_section("1b", s),
    "janus-7b": lambda s: janus_section("7b", s),
    "showo-256": lambda s: showo_section(256, s),
    "showo-512": lambda s: showo_section(1024, s),
    "sft-7b": sft_section,
}


def attempt(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One section; its exception becomes its result (the run goes on)."""
    t0 = time.perf_counter()
    try:
        out = fn()
    except Exception as err:  # noqa: BLE001 - a benchmark reports every failure and carries on
        traceback.print_exc()
        out = {"error": f"{type(err).__name__}: {err}"[:400]}
    finally:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return {**out, "section_s": round(time.perf_counter() - t0, 1)}


# --- results ----------------------------------------------------------------------------------
def meta(s: Settings) -> dict[str, Any]:
    try:
        import transformers

        tf = transformers.__version__
    except ImportError:
        tf = None
    name = torch.cuda.get_device_name() if s.device == "cuda" else platform.processor() or "cpu"
    return dict(
        device=name,
        tiny=s.tiny,
        torch=torch.__version__,
        transformers=tf,
        python=platform.python_version(),
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )


def load(path: Path | None) -> dict[str, Any]:
    if path is not None and path.exists():
        return json.loads(path.read_text())
    return {"meta": None, "sections": {}}


def run(names: list[str], s: Settings, path: Path | None) -> dict[str, Any]:
    results = load(path)
    results["meta"] = results["meta"] or meta(s)
    for name in names:
        print(f"gpu_check: {name} ...", flush=True)
        results["sections"][name] = attempt(lambda name=name: RUNNERS[name](s))
        print(json.dumps({name: results["sections"][name]}), flush=True)
        if path is not None:  # after every section: a later crash or timeout keeps what was measured
            path.write_text(json.dumps(results, indent=1))
    return results


# --- the table --------------------------------------------------------------------------------
def fmt(x: float | None, unit: str = "") -> str:
    return "-" if x is None else f"{x:,.2f}{unit}"


def janus_rows(name: str, r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    label = f"Janus-Pro-{r['stands_for'].upper()}" + (" (tiny dims)" if r["size"] == "tiny" else "")
    runs = list(r["ours"].values())
    ours = next((v for v in runs if "error" not in v), None)
    hf = r["hf_generate"]
    base, how = hf, "generate"
    if "with_dynamic_cache" in hf:  # the default generate crashed (transformers 5.17)
        base, how = hf["with_dynamic_cache"], "generate + DynamicCache"
    notes = [f"x{ours['img_per_s'] / base['img_per_s']:.2f} ours/transformers"] if ours and "error" not in base else []
    notes.append(
        f"B={(ours or base).get('B')}; peak {fmt((ours or {}).get('peak_mem_GB'), ' GB')} ours, "
        f"{fmt(base.get('peak_mem_GB'), ' GB')} transformers"
    )
    if "error" in hf:
        notes.append("default generate: " + hf["error"][:60])
    cands = (
        f"{label} candidates/s",
        f"{fmt(ours['img_per_s'])} (ours, {ours['ran_as']})" if ours else "ERROR " + runs[0]["error"][:80],
        f"{fmt(base['img_per_s'])} (transformers {how})" if "error" not in base else "ERROR " + base["error"][:80],
        "; ".join(notes),
    )
    j = r["judge"]
    if "error" in j:
        return [cands, (f"{label} self-judge judgments/s", "ERROR " + j["error"][:100], "", "")]
    judge = (
        f"{label} self-judge judgments/s",
        f"{fmt(j['prob']['judgments_per_s'])} (prob)",
        f"{fmt(j['parse']['judgments_per_s'])} (parse, <= 16 tokens)",
        f"B={j['prob']['B']}; peak {fmt(j['prob']['peak_mem_GB'], ' GB')}",
    )
    return [cands, judge]


def showo_rows(name: str, r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    dims = " (tiny dims)" if r["tiny"] else ""
    return [
        (
            f"Show-o {name[6:]}{dims} images/s ({r['steps']} steps, g {r['guidance']})",
            fmt(r["img_per_s"]),
            "",
            f"B={r['B']}, {r['M']} tokens, {r['resolution']} px; peak {fmt(r['peak_mem_GB'], ' GB')}",
        )
    ]


def sft_rows(name: str, r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    dims = "tiny dims, " if r["tiny"] else ""
    label = f"SFT step, Janus-Pro-7B ({dims}{r['dtype'].removeprefix('torch.')}, grad ckpt)"
    return [
        (
            label,
            f"{fmt(r['step_s'])} s/step",
            f"peak {fmt(r['peak_mem_GB'], ' GB')}",
            f"B={r['B']}, {r['trainable_B']}B trainable, first step {fmt(r['first_step_s'])} s",
        )
    ]


ROWS = {
    "janus-1b": janus_rows,
    "janus-7b": janus_rows,
    "showo-256": showo_rows,
    "showo-512": showo_rows,
    "sft-7b": sft_rows,
}


def rows_of(name: str, r: dict[str, Any] | None, rc: str | None) -> list[tuple[str, str, str, str]]:
    if r is None:
        why = {None: "not run", "124": "timed out", "137": "killed (timeout)"}.get(rc, f"exit code {rc}")
        return [(name, f"NO RESULT ({why})", "", "")]
    if "error" in r:
        return [(name, "ERROR " + r["error"][:100], "", "")]
    try:
        return ROWS[name](name, r)
    except (KeyError, TypeError, ZeroDivisionError) as err:  # a partial result: show it raw
        return [(name, f"unreadable result ({type(err).__name__}: {err})", "", "")]


def table(results: dict[str, Any], status: dict[str, str] | None = None) -> str:
    m = results.get("meta") or {}
    head = (
        f"unigap gpu_check{' --tiny (CPU, tiny dims: not figures)' if m.get('tiny') else ''} | "
        f"{m.get('device')} | torch {m.get('torch')} | transformers {m.get('transformers')} | {m.get('date')}"
    )
    rows = [("row", "value", "baseline / second figure", "notes")]
    for name in SECTIONS:
        if name in results["sections"] or (status and name in status):
            rows += rows_of(name, results["sections"].get(name), (status or {}).get(name))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [head] + ["  ".join(c.ljust(w) for c, w in zip(r[:3], widths)) + "  " + r[3] for r in rows]
    lines.insert(2, "-" * min(160, len(lines[1]) + 20))
    return "\n".join(lines)


def read_status(path: Path | None) -> dict[str, str] | None:
    if path is None or not path.exists():
        return None
    return dict(line.split()[:2] for line in path.read_text().splitlines() if len(line.split()) >= 2)


def main(argv: list[str] | None = None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="tiny dims on the CPU (seconds): a run check")
    ap.add_argument("--section", action="append", choices=SECTIONS, help="run only these (repeatable)")
    ap.add_argument("--json", type=Path, default=None, help="results file (read, updated after each section)")
    ap.add_argument("--table", action="store_true", help="only print the table of --json")
    ap.add_argument("--status", type=Path, default=None, help="'SECTION EXIT_CODE' lines from gpu_check.sh")
    args = ap.parse_args(argv)
    if args.table:
        results = load(args.json)
        results["meta"] = results["meta"] or meta(settings(args.tiny))  # no section wrote any
        text = table(results, read_status(args.status))
    else:
        s, threads = settings(args.tiny), torch.get_num_threads()
        if s.tiny:
            torch.set_num_threads(1)  # tiny models are overhead-bound: extra threads only add contention
        try:
            text = table(run(args.section or list(SECTIONS), s, args.json))
        finally:
            torch.set_num_threads(threads)
    print(text, flush=True)
    return text


if __name__ == "__main__":
    main()
