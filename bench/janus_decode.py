"""Janus image decoding and self-judging throughput: our decode loop vs transformers' generate.

    python bench/janus_decode.py --tiny [--json out.json]              # CPU, tiny dims, seconds
    python bench/janus_decode.py --sizes 1b,7b --json $OUT/janus.json  # GPU, Janus-Pro dims

Random weights with the real Janus-Pro-1B / 7B dimensions (the Janus-Pro technical report,
arXiv 2501.17811; decode speed does not
depend on weight values), nothing downloaded. Everything runs in this one process on one device:
for each size, our loop (eager, then CUDA graphs) and transformers' `generate(generation_mode=
"image")` on the same prompts with CFG 5, then self-judgments/s in both judge modes. A crash of
the transformers baseline (5.17 crashes inside its own image generate) is reported as
"baseline crashed: ..."; the same transformers loop handed a DynamicCache (which skips the
crashing call) is then measured as well, labelled "with_dynamic_cache". Results print as JSON
lines and go to --json.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import traceback
from collections.abc import Callable
from typing import Any

import torch
from timing import peak_gb, reset_peak, timed

from unigap.models.base import SamplingConfig, SelfJudgeConfig
from unigap.models.janus.backend import JanusBackend
from unigap.models.janus.decode import DecodeSettings
from unigap.models.janus.hf_reference import hf_image_generate
from unigap.models.janus.synthetic import WORDS, build_synthetic
from unigap.models.janus.text import generation_rows
from unigap.utils import left_pad

SAMPLING = SamplingConfig(cfg_scale=5.0, temperature=1.0, top_k=0)


def make_prompts(n: int, seed: int = 0) -> list[str]:
    """n prompts of 6-20 words (Janus prompts are ~20-30 tokens with the chat template)."""
    rng, words = random.Random(seed), WORDS.split()
    return ["a photo of " + " ".join(rng.choice(words) for _ in range(rng.randint(3, 17))) for _ in range(n)]


def bench_ours(backend: JanusBackend, prompts: list[str], mode: str) -> dict[str, Any]:
    """Two calls: the first includes graph capture / compilation, the second is steady state."""
    backend.decoder.compile = mode  # type: ignore[assignment]
    seeds = list(range(len(prompts)))
    reset_peak()
    first, _ = timed(lambda: backend.generate_tokens(prompts, seeds, SAMPLING))
    gen_s, result = timed(lambda: backend.generate_tokens(prompts, seeds, SAMPLING))
    vq_s, _ = timed(lambda: backend.decode(result.tokens))
    effective = backend.decoder.effective_mode(DecodeSettings(SAMPLING.cfg_scale, SAMPLING.temperature, SAMPLING.top_k))
    out = dict(
        B=len(prompts),
        ran_as=effective,
        first_call_s=round(first, 3),
        gen_s=round(gen_s, 3),
        vq_decode_s=round(vq_s, 3),
        img_per_s=round(len(prompts) / (gen_s + vq_s), 3),
        ms_per_step=round(1000 * gen_s / backend.num_image_tokens, 3),
        peak_mem_GB=peak_gb(),
    )
    backend.decoder.release()
    return {**out, "tokens": result.tokens}


def bench_hf(backend: JanusBackend, prompts: list[str], dynamic_cache: bool = False) -> dict[str, Any]:
    """transformers' own image generate (no warm-up run: CUDA was warmed up by our runs)."""
    ids, valid = left_pad(generation_rows(backend.processor, prompts), backend.special.pad)
    ids, mask = ids.to(backend.device), valid.long().to(backend.device)
    reset_peak()
    gen_s, toks = timed(
        lambda: hf_image_generate(
            backend.model,
            ids,
            mask,
            backend.special,
            dynamic_cache,
            do_sample=True,
            guidance_scale=SAMPLING.cfg_scale,
            temperature=SAMPLING.temperature,
            top_k=0,
        )
    )
    vq_s, _ = timed(lambda: backend.decode(toks))
    return dict(
        B=len(prompts),
        cache="dynamic" if dynamic_cache else "static (default)",
        gen_s=round(gen_s, 3),
        vq_decode_s=round(vq_s, 3),
        img_per_s=round(len(prompts) / (gen_s + vq_s), 3),
        ms_per_step=round(1000 * gen_s / backend.num_image_tokens, 3),
        peak_mem_GB=peak_gb(),
    )


def bench_baseline(backend: JanusBackend, prompts: list[str]) -> dict[str, Any]:
    """The default generate; if it crashes (5.17), also the same loop handed a DynamicCache."""
    res = attempt("hf_generate", lambda: bench_hf(backend, prompts))
    if "error" in res:
        res["with_dynamic_cache"] = attempt("hf_generate", lambda: bench_hf(backend, prompts, dynamic_cache=True))
    return res


def bench_judge(backend: JanusBackend, images: torch.Tensor, prompts: list[str]) -> dict[str, Any]:
    out = {}
    for mode in ("parse", "prob"):
        cfg = SelfJudgeConfig(mode=mode, max_new_tokens=16)
        backend.judge(images[:2], prompts[:2], cfg)  # warm-up
        reset_peak()
        s, _ = timed(lambda: backend.judge(images, prompts, cfg))
        out[mode] = dict(
            B=len(prompts), s=round(s, 3), judgments_per_s=round(len(prompts) / s, 2), peak_mem_GB=peak_gb()
        )
    return out


def attempt(label: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one measurement; an exception becomes an entry in the results, not the end of the run."""
    try:
        return fn()
    except Exception as err:  # noqa: BLE001 - a benchmark reports every failure and carries on
        traceback.print_exc()
        prefix = "baseline crashed" if label == "hf_generate" else "failed"
        return {"error": f"{prefix}: {type(err).__name__}: {err}"[:500]}
    finally:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def bench_size(size: str, n_prompts: int, n_judge: int, modes: list[str], device: str) -> dict[str, Any]:
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    build_s, syn = timed(lambda: build_synthetic(size, device=device, dtype=dtype))
    backend = JanusBackend(syn.model, syn.processor, f"random:{size}", batch_size=n_prompts)
    res: dict[str, Any] = dict(
        size=size,
        dtype=str(dtype),
        build_s=round(build_s, 1),
        M=backend.num_image_tokens,
        params_B=round(sum(p.numel() for p in syn.model.parameters()) / 1e9, 3),
    )
    prompts = make_prompts(n_prompts)
    runs = {mode: attempt(mode, lambda mode=mode: bench_ours(backend, prompts, mode)) for mode in modes}
    tokens = {mode: r.pop("tokens") for mode, r in runs.items() if "tokens" in r}
    res["ours"] = runs
    if "none" in tokens and len(tokens) > 1:  # graphs / compile must give the eager loop's tokens
        eager = tokens["none"]
        res["same_tokens_as_eager"] = {m: bool(torch.equal(t, eager)) for m, t in tokens.items() if m != "none"}
    res["hf_generate"] = bench_baseline(backend, prompts)
    images = backend.decode(next(iter(tokens.values()))[:n_judge]) if tokens else None
    res["judge"] = attempt("judge", lambda: bench_judge(backend, images, prompts[:n_judge]))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="tiny dims on CPU (seconds); overrides --sizes")
    ap.add_argument("--sizes", default="1b,7b", help="comma list of 1b, 7b, tiny")
    ap.add_argument("--prompts", type=int, default=48)
    ap.add_argument("--judge-batch", type=int, default=32)
    ap.add_argument("--modes", default=None, help="our loop's compile modes (default: none,cuda_graphs on GPU)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: 1 with --tiny, else torch's)")
    ap.add_argument("--json", default=None, help="write all results to this path")
    args = ap.parse_args()
    if args.threads or args.tiny:  # tiny models are overhead-bound: extra threads only add contention
        torch.set_num_threads(args.threads or 1)
    device = "cuda" if torch.cuda.is_available() and not args.tiny else "cpu"
    sizes = ["tiny"] if args.tiny else args.sizes.split(",")
    modes = (args.modes or ("none,cuda_graphs" if device == "cuda" else "none")).split(",")
    results = header(device)
    results["settings"] = dict(
        prompts=args.prompts, judge_batch=args.judge_batch, modes=modes, sampling=SAMPLING.model_dump()
    )
    print(json.dumps(results), flush=True)
    for size in sizes:
        results[size] = attempt(size, lambda size=size: bench_size(size, args.prompts, args.judge_batch, modes, device))
        print(json.dumps({size: results[size]}), flush=True)
        if args.json:  # after every size, so a later crash or timeout keeps what was measured
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
    summary(results, sizes)


def header(device: str) -> dict[str, Any]:
    import transformers

    name = torch.cuda.get_device_name() if device == "cuda" else platform.processor() or "cpu"
    return dict(
        device=name,
        torch=torch.__version__,
        transformers=transformers.__version__,
        note="transformers 5.17 crashes in Janus image generate (TypeError in _prepare_static_cache)",
    )


def summary(results: dict[str, Any], sizes: list[str]) -> None:
    print(f"\n{results['device']} | torch {results['torch']} | transformers {results['transformers']}")
    for size in sizes:
        r = results[size]
        if "error" in r:
            print(f"{size}: {r['error']}")
            continue
        hf = r["hf_generate"]
        rows = [*((f"ours[{m}]", x) for m, x in r["ours"].items()), ("transformers", hf)]
        rows += [("transformers[dyn]", hf["with_dynamic_cache"])] if "with_dynamic_cache" in hf else []
        for label, run in rows:
            speed = f"{run['img_per_s']:8.2f} images/s  {run['ms_per_step']:8.2f} ms/step" if "error" not in run else ""
            print(f"{size:>4} {label:<18} " + (run.get("error") or f"{speed}  peak {run['peak_mem_GB']} GB"))
        for mode, j in r["judge"].items() if "error" not in r["judge"] else [("judge", r["judge"])]:
            print(f"{size:>4} judge[{mode}]{'':<9} " + (j.get("error") or f"{j['judgments_per_s']:8.2f} judgments/s"))


if __name__ == "__main__":
    main()
