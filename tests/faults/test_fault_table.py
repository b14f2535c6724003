"""The corruption half of the fault table (tests/faults/table.py): damage a file, check the outcome."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.faults import jobs
from tests.faults.table import CORRUPTIONS
from tests.faults.zygote import cli
from unigap.cli import get_app
from unigap.errors import UnigapError

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Ctx:
    tmp: Path
    ckpt: Path
    audited: Path  # an audit with curated data in audited/data (read-only: copy first)
    finished: Path  # a finished `unigap run` (read-only: copy first)

    def copy(self, src: Path, name: str = "run") -> Path:
        shutil.copytree(src, self.tmp / name)
        return self.tmp / name


def invoke(*args):
    return runner.invoke(get_app(), [str(a) for a in args])


def refused(result, *texts: str) -> str:
    assert isinstance(result.exception, UnigapError), f"{result.exception!r}\n{result.output}"
    message = str(result.exception)
    for text in texts:
        assert text in message, f"{text!r} not in:\n{message}"
    return message


def cut(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def improve_args(c: Ctx, data: Path, out: Path, *extra) -> list:
    return [
        "improve",
        "--config",
        ROOT / "configs" / "sft_tiny.yaml",
        "--data",
        data,
        "--out",
        out,
        f"model.path={c.ckpt}",
        "epochs=2",
        "curriculum.epoch=1",
        "curriculum.n=1",
        "guard.threshold=0",
        "train_batch_size=8",
        *extra,
    ]


def trained(c: Ctx) -> tuple[Path, list]:
    run = c.copy(c.audited)
    args = improve_args(c, run / "data", c.tmp / "out")
    assert invoke(*args).exit_code == 0
    return c.tmp / "out", args


def latest(out: Path) -> Path:
    return out / "epochs" / (out / "LATEST").read_text().strip()


def png_replaced(c: Ctx) -> None:
    from PIL import Image

    run = c.copy(c.audited)
    victim = sorted((run / "images").rglob("*.png"))[0]
    Image.new("RGB", (32, 32), (9, 9, 9)).save(victim)
    refused(
        invoke("curate", run, "--out", c.tmp / "data", "selector=poisoned", "rule=all_accepted"),
        "does not match its content hash",
        victim.name,
    )
    assert not (c.tmp / "data").exists()
    refused(invoke("export", "hf", run, "--out", c.tmp / "hf"), "does not match its content hash")


def png_deleted(c: Ctx) -> None:
    run = c.copy(c.audited)
    victim = sorted((run / "images").rglob("*.png"))[0]
    victim.unlink()
    refused(
        invoke("curate", run, "--out", c.tmp / "data", "selector=poisoned", "rule=all_accepted"),
        "cannot read image",
        victim.name,
    )


def parquet_cut(c: Ctx) -> None:
    run = c.copy(c.audited)
    cut(run / "data" / "sft.parquet")
    for extra in ((), ("--dry-run",)):
        refused(invoke(*improve_args(c, run / "data", c.tmp / "out"), *extra), "sft.parquet", "unigap curate")
    assert not (c.tmp / "out").exists()


def curate_killed_before_manifest(c: Ctx) -> None:
    run = c.copy(c.audited)
    argv = ["curate", run, "--out", c.tmp / "data", "selector=self", "rule=all_accepted"]
    assert cli(argv, {"UNIGAP_FAULT_KILL": "file:1"}, cwd=c.tmp).killed
    assert (c.tmp / "data" / "sft.parquet").exists() and not (c.tmp / "data" / "manifest.json").exists()
    refused(invoke(*improve_args(c, c.tmp / "data", c.tmp / "out")), "no manifest.json", "unigap curate")
    assert cli(argv, cwd=c.tmp).code == 0
    assert jobs.parquet(c.tmp / "data" / "sft.parquet") == jobs.parquet(run / "data" / "sft.parquet")


def latest_missing_epoch(c: Ctx) -> None:
    out, args = trained(c)
    (out / "LATEST").write_text("000009\n")
    refused(invoke(*args), "LATEST", "000009", "missing")


def state_cut(c: Ctx) -> None:
    out, args = trained(c)
    cut(latest(out) / "state.pt")
    refused(invoke(*args[:-1], "epochs=3", *args[-1:]), "state.pt", "cannot be read")


def epoch_weights_changed(c: Ctx) -> None:
    out, args = trained(c)
    weights = latest(out) / "model" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    refused(invoke(*[a for a in args if a != "epochs=2"], "epochs=3"), "model.safetensors", "does not match")


def stale_temp_dirs(c: Ctx) -> None:
    out, args = trained(c)
    before = jobs.improve_snapshot(c.tmp)
    (out / "epochs" / ".000003.tmp" / "model").mkdir(parents=True)
    (out / ".train.json.123.4.abcd.tmp").write_text("{")
    assert invoke(*args).exit_code == 0
    assert not (out / "epochs" / ".000003.tmp").exists()
    assert jobs.improve_snapshot(c.tmp) == before


def analysis_cut(c: Ctx) -> None:
    run = c.copy(c.finished)
    cut(run / "analysis.json")
    refused(invoke("show", run), "analysis.json", "not valid JSON", "unigap analyse")
    refused(invoke("report", run, "--out", c.tmp / "r.html"), "analysis.json", "not valid JSON")
    assert invoke("analyse", run, "--entk-samples", "0").exit_code == 0
    assert json.loads((run / "analysis.json").read_text())["before"]


def metrics_cut(c: Ctx) -> None:
    run = c.copy(c.audited)
    good = json.loads((run / "metrics.json").read_text())
    cut(run / "metrics.json")
    refused(invoke("show", run), "metrics.json", "not valid JSON")
    cfg = json.loads(
        __import__("sqlite3")
        .connect(run / "run.sqlite")
        .execute("SELECT value FROM meta WHERE key = 'config'")
        .fetchone()[0]
    )
    from unigap.audit.runner import AuditConfig, run_audit

    class Boom:  # a finished audit needs no model work to rewrite its metrics
        name, num_image_tokens = "boom", 12

        def __getattr__(self, item):
            raise AssertionError(f"model work on a finished run: {item}")

    run_audit(AuditConfig(**cfg), run, model=Boom())
    assert json.loads((run / "metrics.json").read_text())["metrics"] == good["metrics"]


def manifest_cut(c: Ctx) -> None:
    run = c.copy(c.audited)
    cut(run / "data" / "manifest.json")
    refused(invoke(*improve_args(c, run / "data", c.tmp / "out")), "manifest.json", "not valid JSON", "unigap curate")


def understand_cut(c: Ctx) -> None:
    run = c.copy(c.finished)
    target = run / "understand" / "base" / "understand.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text('{"scores": {"shapeworld_plain": {"exact_match": 0.5')
    refused(invoke("analyse", run, "--entk-samples", "0"), "understand.json", "not valid JSON", "understand_base")


def db_garbage(c: Ctx) -> None:
    run = c.copy(c.audited)
    (run / "run.sqlite").write_bytes(b"garbage " * 500)
    for suffix in ("-wal", "-shm"):
        (run / f"run.sqlite{suffix}").unlink(missing_ok=True)
    refused(invoke("audit", "--out", run, f"model.path={c.ckpt}"), "not a usable unigap run database", "new --out")


def pretrain_step_missing(c: Ctx) -> None:
    out = c.tmp / "pre"
    args = [
        "pretrain",
        "--config",
        ROOT / "configs" / "pretrain_tiny.yaml",
        "--out",
        out,
        "steps=4",
        "checkpoint_every=2",
        "train_batch_size=4",
        "arch.n_layer=1",
        "arch.n_head=2",
        "arch.n_embd=32",
        "warmup=1",
        "--eval-prompts",
        "0",
    ]
    assert invoke(*args).exit_code == 0
    shutil.rmtree(out / "steps" / (out / "LATEST").read_text().strip())
    refused(invoke(*args), "LATEST", "missing")


CHECKS = {
    "png-replaced": png_replaced,
    "png-deleted": png_deleted,
    "parquet-cut": parquet_cut,
    "curate-killed-before-manifest": curate_killed_before_manifest,
    "latest-missing-epoch": latest_missing_epoch,
    "state-cut": state_cut,
    "epoch-weights-changed": epoch_weights_changed,
    "stale-temp-dirs": stale_temp_dirs,
    "analysis-cut": analysis_cut,
    "metrics-cut": metrics_cut,
    "manifest-cut": manifest_cut,
    "understand-cut": understand_cut,
    "db-garbage": db_garbage,
    "pretrain-step-missing": pretrain_step_missing,
}


def test_every_row_has_a_check():
    assert set(CHECKS) == {r.id for r in CORRUPTIONS}


@pytest.mark.parametrize("row", CORRUPTIONS, ids=[r.id for r in CORRUPTIONS])
def test_corruption(row, tmp_path, tiny_ckpt_dir, audited_run, finished_run):
    CHECKS[row.id](Ctx(tmp_path, tiny_ckpt_dir, audited_run, finished_run))
