"""The jobs the harness kills: one per stage, at test size (tiny random model, a few prompts)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.faults.harness import Job, images, json_file, parquet, run_db, tensors
from tests.faults.table import must

ROOT = Path(__file__).resolve().parents[2]
JUDGES = "judges=[{name: oracle}, {name: poisoned}]"


def audit_job(ckpt: Path) -> Job:
    def argv(w: Path) -> list:
        return [
            "audit",
            "--out",
            w / "run",
            f"model.path={ckpt}",
            "prompts.split=train",
            "prompts.per_subtask=1",
            "n=3",
            "chunk_size=4",
            "n_boot=10",
            JUDGES,
        ]

    def snap(w: Path) -> dict:
        return {**run_db(w / "run"), "images": images(w / "run"), "metrics": json_file(w / "run" / "metrics.json")}

    return Job("audit", argv, snap, must=must("audit"))


def copy_run(run: Path):
    def setup(work: Path) -> None:
        shutil.copytree(run, work / "run")

    return setup


def curate_job(run: Path) -> Job:
    def argv(w: Path) -> list:
        return ["curate", w / "run", "--out", w / "data", "rule=all_accepted", "selector=poisoned"]

    def snap(w: Path) -> dict:
        d = w / "data"
        return {
            "sft": parquet(d / "sft.parquet"),
            "dpo": parquet(d / "dpo.parquet"),
            "discard": parquet(d / "discard.parquet"),
            "manifest": json_file(d / "manifest.json"),
            "prompts": (d / "prompts.jsonl").read_text() if (d / "prompts.jsonl").exists() else None,
        }

    return Job("curate", argv, snap, setup=copy_run(run), must=must("curate"))


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
    return {
        "weights": tensors(out / "model" / "model.safetensors"),
        "train.json": json_file(out / "train.json"),
        "examples": st["examples"],
        "pool": st["pool"],
        "epoch": st["epoch"],
        "ref": digest(st["ref"]),
        "optimizer": digest(st["optimizer"]),
        "rng": digest(st["rng"]["torch"]),
        "epoch_dirs": sorted(p.name for p in (out / "epochs").iterdir()),
    }


def improve_job(ckpt: Path | None, run: Path, method: str = "sft", epochs: int = 3) -> Job:
    """`run` holds the curated data in run/data (the guard records its result into the run). ckpt None: the
    shipped tiny model (its self-judge answers in words; the random one's judges by probability)."""
    judge = ["self_judge.mode=prob", "self_judge.threshold=0.4"] if ckpt else []  # the replay recovers some of the pool

    def argv(w: Path) -> list:
        return [
            "improve",
            "--config",
            ROOT / "configs" / "sft_tiny.yaml",
            "--data",
            w / "run" / "data",
            "--out",
            w / "out",
            *([f"model.path={ckpt}"] if ckpt else []),
            f"method={method}",
            f"epochs={epochs}",
            "train_batch_size=4",
            "lr=1e-3",
            "curriculum.mode=fixed",
            "curriculum.epoch=2",
            "curriculum.n=2",
            "guard.threshold=0",
            *judge,
        ]

    return Job(f"improve-{method}", argv, improve_snapshot, setup=copy_run(run), must=must(f"improve-{method}"))


def improve_grpo_job(ckpt: Path, run: Path) -> Job:
    """GRPO commits every 2 steps and at each epoch's end: 2 epochs of 5 steps (9 prompts, 2 per step)."""

    def argv(w: Path) -> list:
        return [
            "improve",
            "--config",
            ROOT / "configs" / "grpo_tiny.yaml",
            "--data",
            w / "run" / "data",
            "--out",
            w / "out",
            f"model.path={ckpt}",
            "epochs=2",
            "train_batch_size=8",
            "lr=1e-3",
            "grpo.group_size=4",
            "grpo.save_every=2",
            "grpo.beta=0.05",
            "self_judge.mode=prob",
        ]

    def snap(w: Path) -> dict:
        return {**improve_snapshot(w), "steps.csv": drop_seconds((w / "out" / "steps.csv").read_text())}

    return Job("improve-grpo", argv, snap, setup=copy_run(run), must=must("improve-grpo"))


def drop_seconds(text: str) -> list[dict]:
    """steps.csv without its wall-time columns (seconds/...)."""
    import csv
    import io

    return [{k: v for k, v in r.items() if not k.startswith("seconds/")} for r in csv.DictReader(io.StringIO(text))]


def pretrain_job() -> Job:
    def argv(w: Path) -> list:
        return [
            "pretrain",
            "--config",
            ROOT / "configs" / "pretrain_tiny.yaml",
            "--out",
            w / "out",
            "steps=12",
            "checkpoint_every=4",
            "train_batch_size=8",
            "warmup=2",
            "arch.n_layer=1",
            "arch.n_head=2",
            "arch.n_embd=32",
            "self_play.start=5",
            "self_play.every=4",
            "self_play.pool=8",
            "--eval-prompts",
            "0",
        ]

    def snap(w: Path) -> dict:
        return {
            "weights": tensors(w / "out" / "model.safetensors"),
            "card": json_file(w / "out" / "card.json"),
            "latest": (w / "out" / "LATEST").read_text(),
            "steps": sorted(p.name for p in (w / "out" / "steps").iterdir()),
        }

    return Job("pretrain", argv, snap, must=must("pretrain"))


RUN_ARGS = [
    "n=2",
    "eval_n=1",
    "train_prompts.per_subtask=1",
    "eval_prompts.per_subtask=1",
    "self_judge.mode=prob",
    "curate.rule=all_accepted",
    "improve.epochs=2",
    "improve.train_batch_size=8",
    "improve.curriculum.epoch=1",
    "improve.curriculum.n=1",
    "improve.guard.threshold=0",
    "n_boot=20",
    JUDGES,
]


def run_job(ckpt: Path) -> Job:
    def argv(w: Path) -> list:
        return ["run", "--out", w / "run", f"model.path={ckpt}", *RUN_ARGS]

    def snap(w: Path) -> dict:
        run = w / "run"
        return {
            **run_db(run),
            "images": images(run),
            "results": json_file(run / "results.json"),
            "analysis": json_file(run / "analysis.json"),
            "sft": parquet(run / "data" / "sft.parquet"),
            "weights": tensors(run / "improve" / "model" / "model.safetensors"),
            "train.json": json_file(run / "improve" / "train.json"),
            "report": (run / "report.html").is_file(),
        }

    return Job("run", argv, snap, must=must("run"))


def analyse_job(run: Path) -> Job:
    def argv(w: Path) -> list:
        return ["analyse", w / "run", "--entk-samples", "4"]

    return Job(
        "analyse",
        argv,
        lambda w: {"analysis": json_file(w / "run" / "analysis.json")},
        setup=copy_run(run),
        must=must("analyse"),
    )


def report_job(run: Path) -> Job:
    def argv(w: Path) -> list:
        return ["report", w / "run", "--out", w / "report.html"]

    return Job(
        "report", argv, lambda w: {"report": (w / "report.html").read_text()}, setup=copy_run(run), must=must("report")
    )


def understand_job(ckpt: Path) -> Job:
    def argv(w: Path) -> list:
        return [
            "understand",
            str(ckpt),
            "--tasks",
            "shapeworld_plain",
            "--out",
            w / "und",
            "--per-subtask",
            "2",
            "--limit",
            "6",
            "--batch-size",
            "2",
        ]

    return Job(
        "understand", argv, lambda w: {"result": json_file(w / "und" / "understand.json")}, must=must("understand")
    )
