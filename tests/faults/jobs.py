"""The jobs the harness kills: one per stage, at test size (tiny random model, a few prompts)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.faults.harness import Job, images, json_file, parquet, run_db, tensors

ROOT = Path(__file__).resolve().parents[2]
JUDGES = "judges=[{name: oracle}, {name: poisoned}]"


def audit_job(ckpt: Path) -> Job:
    argv = lambda w: ["audit", "--out", w / "run", f"model.path={ckpt}", "prompts.split=train",  # noqa: E731
                      "prompts.per_subtask=1", "n=3", "batch_size=4", "n_boot=10", JUDGES]
    snap = lambda w: {**run_db(w / "run"), "images": images(w / "run"), "metrics": json_file(w / "run" / "metrics.json")}  # noqa: E731
    return Job("audit", argv, snap, must=("db store * candidates", "db store * judgments by 'self'",
                                          "db store * judgments by 'poisoned'", "db record stage*", "file *.png"))


def copy_run(run: Path):
    def setup(work: Path) -> None:
        shutil.copytree(run, work / "run")
    return setup


def curate_job(run: Path) -> Job:
    argv = lambda w: ["curate", w / "run", "--out", w / "data", "rule=all_accepted", "selector=poisoned"]  # noqa: E731

    def snap(w: Path) -> dict:
        d = w / "data"
        return {"sft": parquet(d / "sft.parquet"), "dpo": parquet(d / "dpo.parquet"),
                "discard": parquet(d / "discard.parquet"), "manifest": json_file(d / "manifest.json"),
                "prompts": (d / "prompts.jsonl").read_text() if (d / "prompts.jsonl").exists() else None}
    return Job("curate", argv, snap, setup=copy_run(run), must=("file *sft.parquet", "file *dpo.parquet",
                                                                "file *discard.parquet", "file *prompts.jsonl"))


def digest(obj) -> object:
    """Nested tensors -> sha256 of their bytes (exact comparison without holding them)."""
    import hashlib

    import torch

    if isinstance(obj, torch.Tensor):
        return hashlib.sha256(obj.detach().cpu().contiguous().numpy().tobytes()).hexdigest()
    if isinstance(obj, dict):
        return {k: digest(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [digest(v) for v in obj]
    return obj


def improve_snapshot(w: Path) -> dict:
    import torch

    out = w / "out"
    st = torch.load(out / "epochs" / (out / "LATEST").read_text().strip() / "state.pt", weights_only=False)
    return {"weights": tensors(out / "model" / "model.safetensors"), "train.json": json_file(out / "train.json"),
            "examples": st["examples"], "pool": st["pool"], "epoch": st["epoch"], "ref": digest(st["ref"]),
            "optimizer": digest(st["optimizer"]), "rng": digest(st["rng"]["torch"]),
            "epoch_dirs": sorted(p.name for p in (out / "epochs").iterdir())}


def improve_job(ckpt: Path, run: Path, method: str = "sft", epochs: int = 3) -> Job:
    """`run` holds the curated data in run/data (the guard records its result into the run)."""
    def argv(w: Path) -> list:
        return ["improve", "--config", ROOT / "configs" / "sft_tiny.yaml", "--data", w / "run" / "data",
                "--out", w / "out", f"model.path={ckpt}", f"method={method}", f"epochs={epochs}", "batch_size=4",
                "lr=1e-3", "curriculum.mode=fixed", "curriculum.epoch=2", "curriculum.n=2", "guard.threshold=0",
                "self_judge.mode=prob", "self_judge.threshold=0.4"]  # the replay recovers some of the pool
    must = ("commit.staged *000002*", "commit.renamed *000002*", "commit.latest *000002*", "commit.linked *",
            "curriculum.batch *", "improve.weights *000002*", "improve.step epoch 3", "file *train.json")
    return Job(f"improve-{method}", argv, improve_snapshot, setup=copy_run(run), must=must)
