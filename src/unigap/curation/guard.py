"""The co-degradation guard: an external judge re-checks a sample of the curated data first.

Self-supervision can be wrong in a way the internal score never shows (the co-degradation risk in the
abstract of arXiv 2507.16663v1): train on
images the model wrongly accepts and its understanding learns to accept them too, so
non-unification falls while real quality falls with it. Before training, an external judge
re-judges a random sample of what curation labelled (SFT images are labelled "accepted"; DPO
chosen/rejected images "accepted"/"rejected"); if its agreement with those labels is below the
threshold, `improve` stops with the measured agreement and its 95 % Wilson interval, unless --force.
The agreement is also reported per band (for SFT data it is the acceptance precision of the selector);
with `stop_on: worst_band` the sample is drawn per band (`sample` items each) and the guard stops when
the worst band with at least `min_band_items` items is below the threshold: a selector can be right
overall on the easy band's many images and mostly wrong on the hard band's few.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image
from pydantic import Field

from unigap.config import Config, seed_field
from unigap.curation.dataset import PROMPTS, CuratedData, read_prompts, source_run
from unigap.errors import UnigapError
from unigap.files import write_json
from unigap.judges.base import JudgeConfig, load_judge
from unigap.records import Prompt
from unigap.store import RunStore


class GuardConfig(Config):
    judge: str | None = None  # external judge registry name (e.g. oracle); None = no guard
    options: dict[str, Any] = {}
    sample: int = Field(100, ge=1)  # curated items re-judged
    threshold: float = Field(0.5, ge=0.0, le=1.0)  # minimum agreement: at least half of the self-labels confirmed
    seed: int = seed_field()
    stop_on: Literal["overall", "worst_band"] = "overall"  # worst_band: `sample` items per band, the worst decides
    min_band_items: int = Field(10, ge=1)  # bands with fewer sampled items are reported, never decide


class GuardError(UnigapError):
    pass


def wilson(k: int, n: int, z: float = 1.96) -> list[float]:
    if n == 0:
        return [0.0, 1.0]
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def _images(path: Path, rows: list[int], cols: list[str]) -> dict[str, list[np.ndarray]]:
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=cols).take(rows).to_pylist()
    return {c: [np.asarray(Image.open(io.BytesIO(r[c]["bytes"])).convert("RGB")) for r in table] for c in cols}


def sample_rows(items: list[dict], k: int, rng: np.random.Generator, per_band: bool) -> list[int]:
    """k random row indices, or k per band (all of a band's rows when it has fewer)."""
    if not per_band:
        return sorted(rng.choice(len(items), min(k, len(items)), replace=False).tolist())
    rows: list[int] = []
    for band in dict.fromkeys(r.get("band") for r in items):
        members = [i for i, r in enumerate(items) if r.get("band") == band]
        rows += [members[j] for j in rng.choice(len(members), min(k, len(members)), replace=False)]
    return sorted(rows)


def guard_items(
    data: CuratedData, data_dir: Path, sample: int, seed: int, per_band: bool = False
) -> tuple[list[np.ndarray], list[str], list[int]]:
    """Sampled curated images, their prompt ids and the label curation gave them."""
    rng = np.random.default_rng(seed)
    if data.sft:
        rows = sample_rows(data.sft, sample, rng, per_band)
        imgs = _images(data_dir / "sft.parquet", rows, ["image"])["image"]
        return imgs, [data.sft[i]["prompt_id"] for i in rows], [1] * len(rows)
    rows = sample_rows(data.pairs, max(sample // 2, 1), rng, per_band)
    imgs = _images(data_dir / "dpo.parquet", rows, ["chosen", "rejected"])
    pids = [data.pairs[i]["prompt_id"] for i in rows]
    return imgs["chosen"] + imgs["rejected"], pids + pids, [1] * len(rows) + [0] * len(rows)


def prompts_of(data: CuratedData, data_dir: Path) -> dict[str, Prompt]:
    """The curated prompts: from the data dir (prompts.jsonl), else from the source run's store."""
    if (data_dir / PROMPTS).is_file():
        return read_prompts(data_dir / PROMPTS)
    run_dir = source_run(data, data_dir)
    if run_dir is None:
        raise UnigapError(
            f"guard: {data_dir} has no {PROMPTS} and its run directory {data.manifest.get('run_dir')!r} "
            "is missing; rerun `unigap curate`"
        )
    with RunStore.open(run_dir, create=False) as store:
        return {p.id: p for p in store.prompts()}


def run_guard(
    cfg: GuardConfig, data: CuratedData, data_dir: Path, force: bool, log: Callable[[str], None]
) -> dict | None:
    if cfg.judge is None:
        return None
    images, pids, labels = guard_items(data, data_dir, cfg.sample, cfg.seed, cfg.stop_on == "worst_band")
    prompts = prompts_of(data, data_dir)
    judge = load_judge(JudgeConfig(name=cfg.judge, options=cfg.options))
    verdicts = judge.judge(torch.from_numpy(np.stack(images)), [prompts[p] for p in pids])
    hits = [int(v.verdict == y) for v, y in zip(verdicts, labels)]
    agree, n = sum(hits), len(labels)
    bands = band_agreement(hits, [prompts[p].band or "-" for p in pids])
    result = {
        "judge": judge.name,
        "n": n,
        "agree": agree,
        "agreement": agree / n if n else None,
        "ci": wilson(agree, n),
        "threshold": cfg.threshold,
        "stop_on": cfg.stop_on,
        "bands": bands,
        "worst_band": worst_band(bands, cfg.min_band_items),
        "forced": False,
    }
    result["passed"] = decide(result, cfg)
    result["forced"] = force and not result["passed"]
    msg = guard_message(result, judge.name)
    _record(data, data_dir, result)
    if not result["passed"] and not force:
        raise GuardError(
            msg + ". Training on this self-supervision risks co-degradation; fix the selector or rerun with --force."
        )
    log(msg + (" — below threshold, continuing because of --force" if result["forced"] else " — passed"))
    return result


def band_agreement(hits: list[int], bands: list[str]) -> dict[str, dict]:
    """band -> {n, agree, agreement, ci} (for SFT data: the selector's acceptance precision per band)."""
    out = {}
    for band in dict.fromkeys(bands):
        h = [x for x, b in zip(hits, bands) if b == band]
        out[band] = {"n": len(h), "agree": sum(h), "agreement": sum(h) / len(h), "ci": wilson(sum(h), len(h))}
    return out


def worst_band(bands: dict[str, dict], min_items: int) -> str | None:
    eligible = {b: v["agreement"] for b, v in bands.items() if v["n"] >= min_items}
    return min(eligible, key=eligible.get) if eligible else None


def decide(result: dict, cfg: GuardConfig) -> bool:
    if result["n"] == 0:
        return False
    if cfg.stop_on == "worst_band" and result["worst_band"] is not None:
        return result["bands"][result["worst_band"]]["agreement"] >= cfg.threshold
    return result["agreement"] >= cfg.threshold


def guard_message(result: dict, name: str) -> str:
    agree, n, ci = result["agree"], result["n"], result["ci"]
    per_band = ", ".join(f"{b} {v['agree']}/{v['n']}" for b, v in result["bands"].items())
    msg = (
        f"data-quality guard: {name} agrees with {agree}/{n} curated labels = {100 * agree / max(n, 1):.1f}% "
        f"(95% CI {100 * ci[0]:.1f}-{100 * ci[1]:.1f}%), threshold {100 * result['threshold']:.0f}%; "
        f"per band {per_band}"
    )
    if result["stop_on"] == "worst_band" and result["worst_band"]:
        w = result["bands"][result["worst_band"]]
        msg += f"; worst band {result['worst_band']} {100 * w['agreement']:.1f}% decides"
    return msg


def _record(data: CuratedData, data_dir: Path, result: dict) -> None:
    """The guard's result beside the data (guard.json) and in the source run, where the report reads it."""
    write_json(data_dir / "guard.json", result)
    run_dir = source_run(data, data_dir)
    if run_dir is not None:
        with RunStore.open(run_dir, create=False) as store:
            store.set_stage("guard", "done" if result["passed"] else "failed", result)
