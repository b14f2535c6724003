"""SIGKILL during `unigap curate` and during `unigap improve`: the rerun gives what an uninterrupted run gives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from unigap.audit.runner import AuditConfig, run_audit
from unigap.curation.dataset import load_curated
from unigap.judges.base import JudgeConfig
from unigap.models.base import ModelConfig, load_model
from unigap.prompts.base import SuiteConfig

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def audited(tmp_path_factory, tiny_ckpt_dir):
    run = tmp_path_factory.mktemp("sigkill") / "run"
    cfg = AuditConfig(model=ModelConfig(path=str(tiny_ckpt_dir)), prompts=SuiteConfig(split="train", per_subtask=4),
                      n=3, n_boot=10, judges=[JudgeConfig(name="oracle"), JudgeConfig(name="poisoned")])
    run_audit(cfg, run)
    return run


def unigap(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "unigap", *[str(a) for a in args]], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def kill_when(p: subprocess.Popen, ready, timeout: float = 300) -> bool:
    """SIGKILL `p` as soon as ready() holds; False if it finished first."""
    deadline = time.time() + timeout
    while time.time() < deadline and p.poll() is None:
        if ready():
            p.send_signal(signal.SIGKILL)
            p.wait()
            return True
        time.sleep(0.01)
    p.wait()
    return False


def rows(data: Path) -> tuple:
    d = load_curated(data)
    return [r["tokens"] for r in d.sft], [(r["chosen_tokens"], r["rejected_tokens"]) for r in d.pairs], d.discard


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_curate_killed_then_rerun_equals_uninterrupted(audited, tmp_path):
    args = ["rule=all_accepted", "selector=poisoned"]
    killed = unigap("curate", audited, "--out", tmp_path / "killed", *args)
    assert kill_when(killed, lambda: (tmp_path / "killed" / "sft.parquet").exists()), "curate finished before the kill"
    assert not (tmp_path / "killed" / "manifest.json").exists()
    for out in ("killed", "straight"):
        assert unigap("curate", audited, "--out", tmp_path / out, *args).wait() == 0
    assert rows(tmp_path / "killed") == rows(tmp_path / "straight")


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_improve_killed_then_rerun_equals_uninterrupted(audited, tiny_ckpt_dir, tmp_path):
    data = tmp_path / "data"
    assert unigap("curate", audited, "--out", data, "rule=all_accepted", "selector=poisoned").wait() == 0
    args = ["--config", ROOT / "configs" / "sft_tiny.yaml", "--data", data, f"model.path={tiny_ckpt_dir}", "epochs=6",
            "batch_size=4", "curriculum.mode=none", "guard.threshold=0"]
    killed = unigap("improve", "--out", tmp_path / "killed", *args)
    assert kill_when(killed, lambda: (tmp_path / "killed" / "state.pt").exists()), "improve finished before the kill"
    for out in ("killed", "straight"):
        p = unigap("improve", "--out", tmp_path / out, *args)
        assert p.wait() == 0, p.stderr.read().decode()[-2000:]
    a, b = (load_model(ModelConfig(path=str(tmp_path / o / "model"))).module().state_dict() for o in ("killed", "straight"))
    assert all(torch.equal(a[k], b[k]) for k in a)
