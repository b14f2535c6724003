import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from unigap.audit.runner import AuditConfig, run_audit
from unigap.errors import UnigapError
from unigap.models.base import ModelConfig
from unigap.prompts.base import SuiteConfig
from unigap.store import RunStore


def small_cfg(ckpt, **kw):
    base = dict(
        model=ModelConfig(name="tiny", path=str(ckpt), batch_size=8),
        prompts=SuiteConfig(per_subtask=2),
        n=3,
        chunk_size=8,
        n_boot=50,
    )
    return AuditConfig(**{**base, **kw})


def snapshot(run_dir):
    with RunStore.open(run_dir, create=False) as s:
        cands = {(c.source, c.prompt_id, c.idx): (c.seed, c.tokens.tolist()) for c in s.candidates()}
        key = {c.id: (c.source, c.prompt_id, c.idx) for c in s.candidates()}
        judg = {(key[r.candidate_id], r.judge): (r.verdict, r.raw, r.status) for r in s.judgments()}
    return cands, judg


def test_audit_counts_metrics_and_finished_rerun_does_no_work(tmp_path, tiny_ckpt_dir):
    cfg = small_cfg(tiny_ckpt_dir)
    m = run_audit(cfg, tmp_path / "run")
    assert m["counts"]["candidates"]["base"] == 9 * 2 * 3
    assert m["counts"]["judgments"] == {"self": 54, "oracle": 54}
    assert set(m["metrics"]["non_unification"]["bands"]) == {"easy", "medium", "hard"}

    class Boom:
        name, num_image_tokens = "boom", 64

        def __getattr__(self, item):
            raise AssertionError(f"model work on a finished run: {item}")

    run_audit(cfg, tmp_path / "run", model=Boom())  # nothing left to do: the model is never called


def test_config_mismatch_is_refused_naming_keys(tmp_path, tiny_ckpt_dir):
    run_audit(small_cfg(tiny_ckpt_dir), tmp_path / "run")
    with pytest.raises(UnigapError, match="n") as err:
        run_audit(small_cfg(tiny_ckpt_dir, n=4, seed=1), tmp_path / "run")
    assert "seed" in str(err.value)


def test_kill_9_then_resume_equals_uninterrupted(tmp_path, tiny_ckpt_dir):
    args = [
        "audit",
        "--config",
        os.devnull,
        f"model.path={tiny_ckpt_dir}",
        "model.batch_size=4",
        "chunk_size=4",
        "prompts.per_subtask=4",
        "n=4",
        "n_boot=20",
    ]

    def run(out):
        return subprocess.Popen(
            [sys.executable, "-m", "unigap", *args[:3], "--out", str(out), *args[3:]],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    p = run(tmp_path / "killed")
    db = tmp_path / "killed" / "run.sqlite"
    deadline = time.time() + 60
    while time.time() < deadline:
        time.sleep(0.05)
        if db.exists() and _count(db) >= 20:
            break
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert _count(db) < 9 * 4 * 4, "the audit finished before it could be killed; make it longer"
    assert run(tmp_path / "killed").wait() == 0
    assert run(tmp_path / "straight").wait() == 0
    killed, straight = snapshot(tmp_path / "killed"), snapshot(tmp_path / "straight")
    assert len(killed[0]) == 9 * 4 * 4 and len(killed[1]) == 2 * 9 * 4 * 4
    assert killed == straight


def _count(db):
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return con.execute("select count(*) from candidates").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
