"""The co-degradation guard: an external judge re-checks a sample of the curated data first.

Self-supervision can be wrong in a way the internal score never shows (paper.md §7): train on
images the model wrongly accepts and its understanding learns to accept them too, so
non-unification falls while real quality falls with it. Before training, an external judge
re-judges a random sample of what curation labelled (SFT images are labelled "accepted"; DPO
chosen/rejected images "accepted"/"rejected"); if its agreement with those labels is below the
threshold, `improve` stops with the measured agreement and its 95 % Wilson interval, unless --force.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image

from unigap.config import Config
from unigap.curation.dataset import CuratedData
from unigap.errors import UnigapError
from unigap.judges.base import JudgeConfig, load_judge
from unigap.records import Prompt
from unigap.store import RunStore


class GuardConfig(Config):
    judge: str | None = None  # external judge registry name (e.g. oracle); None = no guard
    options: dict[str, Any] = {}
    sample: int = 100  # curated items re-judged
    threshold: float = 0.5  # minimum agreement: at least half of the self-labels confirmed
    seed: int = 0


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


def guard_items(data: CuratedData, data_dir: Path, sample: int, seed: int) -> tuple[list[np.ndarray], list[str], list[int]]:
    """Sampled curated images, their prompt ids and the label curation gave them."""
    rng = np.random.default_rng(seed)
    if data.sft:
        rows = sorted(rng.choice(len(data.sft), min(sample, len(data.sft)), replace=False).tolist())
        imgs = _images(data_dir / "sft.parquet", rows, ["image"])["image"]
        return imgs, [data.sft[i]["prompt_id"] for i in rows], [1] * len(rows)
    rows = sorted(rng.choice(len(data.pairs), min(max(sample // 2, 1), len(data.pairs)), replace=False).tolist())
    imgs = _images(data_dir / "dpo.parquet", rows, ["chosen", "rejected"])
    pids = [data.pairs[i]["prompt_id"] for i in rows]
    return imgs["chosen"] + imgs["rejected"], pids + pids, [1] * len(rows) + [0] * len(rows)


def prompts_of(data: CuratedData) -> dict[str, Prompt]:
    run_dir = data.manifest.get("run_dir")
    if not run_dir or not Path(run_dir).exists():
        raise UnigapError(f"guard: the curated data's run directory {run_dir!r} is missing (it holds the prompts)")
    with RunStore.open(run_dir, create=False) as store:
        return {p.id: p for p in store.prompts()}


def run_guard(cfg: GuardConfig, data: CuratedData, data_dir: Path, force: bool, log: Callable[[str], None]) -> dict | None:
    if cfg.judge is None:
        return None
    images, pids, labels = guard_items(data, data_dir, cfg.sample, cfg.seed)
    prompts = prompts_of(data)
    judge = load_judge(JudgeConfig(name=cfg.judge, options=cfg.options))
    verdicts = judge.judge(torch.from_numpy(np.stack(images)), [prompts[p] for p in pids])
    agree = sum(int(v.verdict == y) for v, y in zip(verdicts, labels))
    n = len(labels)
    result = {"judge": judge.name, "n": n, "agree": agree, "agreement": agree / n if n else None,
              "ci": wilson(agree, n), "threshold": cfg.threshold, "passed": n > 0 and agree / n >= cfg.threshold,
              "forced": False}
    result["forced"] = force and not result["passed"]
    ci = result["ci"]
    msg = (f"data-quality guard: {judge.name} agrees with {agree}/{n} curated labels = {100 * agree / max(n, 1):.1f}% "
           f"(95% CI {100 * ci[0]:.1f}-{100 * ci[1]:.1f}%), threshold {100 * cfg.threshold:.0f}%")
    _record(data, result)
    if not result["passed"] and not force:
        raise GuardError(msg + ". Training on this self-supervision risks co-degradation; "
                         "fix the selector or rerun with --force.")
    log(msg + (" — below threshold, continuing because of --force" if result["forced"] else " — passed"))
    return result


def _record(data: CuratedData, result: dict) -> None:
    """Store the guard's result in the source run, where the report reads it."""
    with RunStore.open(data.manifest["run_dir"], create=False) as store:
        store.set_stage("guard", "done" if result["passed"] else "failed", result)
