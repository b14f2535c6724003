"""Launching several unigap processes the way torchrun / `accelerate launch` do: one subprocess per
rank with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT set (gloo on the CPU)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank_env(rank: int, world: int, port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(extra or {})
    env.update(
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
        LOCAL_WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        OMP_NUM_THREADS="1",
        UNIGAP_DIST_TIMEOUT_S="120",
        PYTHONPATH=f"{REPO}{os.pathsep}{env.get('PYTHONPATH', '')}",
    )
    return env


def launch(
    args: list[str], world: int = 2, log_dir: Path | None = None, env: dict[str, str] | None = None
) -> list[subprocess.Popen]:
    """Start `python <args>` once per rank (`env`: extra variables); stdout/stderr to log_dir/rank{r}.log."""
    port, procs = free_port(), []
    for r in range(world):
        out = open(log_dir / f"rank{r}.log", "ab") if log_dir else subprocess.DEVNULL
        procs.append(
            subprocess.Popen(
                [sys.executable, *args],
                env=rank_env(r, world, port, env),
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        )
    return procs


def wait_all(procs: list[subprocess.Popen], timeout: float = 180) -> list[int]:
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(timeout=timeout))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
    return codes


def logs(log_dir: Path) -> str:
    return "\n".join(
        f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(log_dir.glob("rank*.log"))
    )


TEXTS = ["a red circle", "a blue square", "a big green triangle", "a small red cross"]


def make_tiny_data(path: Path, ckpt_dir: Path, n: int = 8, seed: int = 0) -> Path:
    """Curated SFT rows / DPO pairs of random image tokens for the tiny model, plus a discard pool."""
    from unigap.models.base import ModelConfig, load_model

    model = load_model(ModelConfig(name="tiny", path=str(ckpt_dir)))
    return make_data(path, model, model.ckpt.codec.size, n, seed)


def make_data(path: Path, model, codebook: int, n: int = 8, seed: int = 0) -> Path:
    """Curated SFT rows / DPO pairs of random image tokens (ids < codebook) for `model`, plus a discard pool."""
    import json

    import numpy as np
    import torch

    from unigap.curation.dataset import MANIFEST, _write
    from unigap.files import encode_png

    rng = np.random.default_rng(seed)
    rows, pairs = [], []
    for i in range(n):
        toks = rng.integers(0, codebook, size=(2, model.num_image_tokens))
        img = np.asarray(model.decode(torch.from_numpy(toks)))
        base = {"prompt": TEXTS[i % 4], "prompt_id": f"p{i}", "subtask": "single_object", "band": "easy"}
        rows.append({**base, "image": {"bytes": encode_png(img[0])}, "tokens": toks[0].tolist()})
        pairs.append(
            {
                **base,
                "chosen": {"bytes": encode_png(img[0])},
                "rejected": {"bytes": encode_png(img[1])},
                "chosen_tokens": toks[0].tolist(),
                "rejected_tokens": toks[1].tolist(),
            }
        )
    path.mkdir(parents=True, exist_ok=True)
    _write(rows, path / "sft.parquet", ("image",))
    _write(pairs, path / "dpo.parquet", ("chosen", "rejected"))
    _write(
        [
            {
                "prompt": t,
                "prompt_id": f"q{i}",
                "subtask": "single_object",
                "band": "easy",
                "split": "train",
                "suite": "t",
                "spec": "null",
            }
            for i, t in enumerate(TEXTS[:2])
        ],
        path / "discard.parquet",
        (),
    )
    manifest = {
        "curate": {"rule": "all_accepted"},
        "splits": ["train"],
        "run_dir": None,
        "fingerprint": model.fingerprint(),
        "counts": {},
    }
    (path / MANIFEST).write_text(json.dumps(manifest))
    return path
