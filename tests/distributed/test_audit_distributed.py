"""A 2-process audit (gloo, CPU) equals the 1-process audit; a killed rank resumes its shard."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from http.server import HTTPServer

import pytest

from tests.cli.test_consistency_cli import Scripted
from tests.distributed.helpers import launch, logs, wait_all
from unigap.audit.runner import AuditConfig, run_audit
from unigap.distributed import Dist, dist_info, rank_device, shard
from unigap.models.base import ModelConfig
from unigap.prompts.base import SuiteConfig
from unigap.store import RunStore, part_path

SMALL = ["model.batch_size=8", "chunk_size=8", "prompts.per_subtask=2", "n=3", "n_boot=50"]
LONG = ["model.batch_size=4", "chunk_size=4", "prompts.per_subtask=3", "n=4", "n_boot=20"]


def audit_args(ckpt, out, overrides):
    return ["-m", "unigap", "audit", "--config", os.devnull, "--out", str(out), f"model.path={ckpt}", *overrides]


def one_process(ckpt, out, overrides):
    kw = dict(o.split("=", 1) for o in overrides)
    cfg = AuditConfig(
        model=ModelConfig(name="tiny", path=str(ckpt), batch_size=int(kw["model.batch_size"])),
        prompts=SuiteConfig(per_subtask=int(kw["prompts.per_subtask"])),
        n=int(kw["n"]),
        chunk_size=int(kw["chunk_size"]),
        n_boot=int(kw["n_boot"]),
    )
    return run_audit(cfg, out)


def snapshot(run_dir, db=None):
    """Candidates (seed, tokens) and judgments (verdict, raw, status) keyed by (prompt_id, idx)."""
    store = RunStore.open(run_dir, create=False) if db is None else RunStore._open(run_dir, db, create=False)
    with store as s:
        cands = {(c.source, c.prompt_id, c.idx): (c.seed, c.tokens.tolist(), c.png) for c in s.candidates()}
        key = {c.id: (c.source, c.prompt_id, c.idx) for c in s.candidates()}
        judg = {(key[r.candidate_id], r.judge): (r.verdict, r.raw, r.status) for r in s.judgments()}
        return cands, judg, {p.id for p in s.prompts()}, s.config(), s.get_meta("provenance")


def test_rank_and_shard_helpers(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    assert dist_info() == Dist(0, 1, 0) and not dist_info().enabled
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    d = dist_info()
    assert d == Dist(1, 3, 1) and d.enabled and not d.is_main
    assert shard(list(range(8)), d) == [1, 4, 7]
    assert rank_device("cuda", d) == "cuda:1" and rank_device("cuda:0", d) == "cuda:0"
    assert rank_device("cpu", d) == "cpu"


def test_two_processes_equal_one_process(tmp_path, tiny_ckpt_dir):
    single = one_process(tiny_ckpt_dir, tmp_path / "one", SMALL)
    t0 = time.time()
    codes = wait_all(launch(audit_args(tiny_ckpt_dir, tmp_path / "two", SMALL), log_dir=tmp_path))
    elapsed = time.time() - t0
    assert codes == [0, 0], logs(tmp_path)
    one, two = snapshot(tmp_path / "one"), snapshot(tmp_path / "two")
    assert len(one[0]) == 9 * 2 * 3 and len(one[1]) == 2 * 9 * 2 * 3
    assert two[0] == one[0]  # same tokens (and identical PNGs) per (prompt_id, idx)
    assert two[1] == one[1]  # same verdicts and raw answers per (candidate, judge)
    assert two[2] == one[2] and two[3] == one[3]  # all prompts and the config in the main store
    assert two[4]["model_fingerprint"] == one[4]["model_fingerprint"]
    # each rank wrote its own shard: rank r holds prompts[r::2]
    p0, p1 = (snapshot(tmp_path / "two", part_path(tmp_path / "two", r)) for r in (0, 1))
    assert p0[2].isdisjoint(p1[2]) and p0[2] | p1[2] == one[2]
    assert len(p0[0]) == len(p1[0]) == 27
    metrics = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert metrics == single
    with RunStore.open(tmp_path / "two", create=False) as s:
        assert s.stage("audit")["info"]["world_size"] == 2
    print(f"2-process audit of 54 candidates: {elapsed:.1f} s wall (including 2 interpreter starts)")


def _count(db):
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return con.execute("select count(*) from candidates").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_killed_rank_resumes_its_shard(tmp_path, tiny_ckpt_dir):
    out = tmp_path / "killed"
    procs = launch(audit_args(tiny_ckpt_dir, out, LONG), log_dir=tmp_path)
    db = part_path(out, 1)
    deadline = time.time() + 60
    while time.time() < deadline and _count(db) < 8:
        time.sleep(0.05)
    procs[1].send_signal(signal.SIGKILL)
    procs[1].wait()
    killed_at = _count(db)
    assert killed_at < 54, "rank 1 finished its shard before it could be killed; make the audit longer"
    assert procs[0].wait(timeout=120) != 0  # rank 0 does not wait forever for a dead peer
    assert not (out / "metrics.json").exists()

    assert wait_all(launch(audit_args(tiny_ckpt_dir, out, LONG), log_dir=tmp_path)) == [0, 0], logs(tmp_path)
    one_process(tiny_ckpt_dir, tmp_path / "straight", LONG)
    resumed, straight = snapshot(out), snapshot(tmp_path / "straight")
    assert len(resumed[0]) == 9 * 3 * 4 and resumed[:3] == straight[:3]
    assert json.loads((out / "metrics.json").read_text())["counts"]["judgments"] == {"self": 108, "oracle": 108}


def test_failure_on_one_rank_stops_all_with_its_message(tmp_path, tiny_ckpt_dir):
    run_audit(
        AuditConfig(
            model=ModelConfig(name="tiny", path=str(tiny_ckpt_dir)), prompts=SuiteConfig(per_subtask=1), n=1, n_boot=10
        ),
        tmp_path / "run",
    )  # a run made with another config
    codes = wait_all(launch(audit_args(tiny_ckpt_dir, tmp_path / "run", SMALL), log_dir=tmp_path), timeout=120)
    assert codes[0] != 0 and codes[1] != 0
    text = logs(tmp_path)
    assert "different config" in text  # rank 0's refusal, on rank 0
    assert "another rank failed" in text  # rank 1 stops too instead of waiting at the barrier


@pytest.fixture
def failing_judge():
    """An http judge that fails every call until Scripted.ok is set."""
    server = HTTPServer(("127.0.0.1", 0), Scripted)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Scripted.ok = False
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_judge_whose_every_call_fails_stops_the_sharded_audit_then_a_rerun_retries(
    tmp_path, tiny_ckpt_dir, failing_judge
):
    judge = f"judges=[{{name: http, options: {{base_url: '{failing_judge}', model: judge-x}}}}]"
    args = audit_args(tiny_ckpt_dir, tmp_path / "run", [*SMALL, judge])
    codes = wait_all(launch(args, log_dir=tmp_path), timeout=120)
    assert codes[0] != 0 and codes[1] != 0, logs(tmp_path)
    text = logs(tmp_path)
    assert "all 54 judgments failed" in text and "model 'judge-x' is not loaded" in text  # both shards counted
    with RunStore.open(tmp_path / "run", create=False) as s:
        stage = s.stage("audit")
        assert stage["status"] == "failed" and stage["info"]["dead_judges"]["http:judge-x"]["failed"] == 54
        assert len(s.candidates()) == 54  # the candidates stay
    Scripted.ok = True
    assert wait_all(launch(args, log_dir=tmp_path), timeout=120) == [0, 0], logs(tmp_path)
    with RunStore.open(tmp_path / "run", create=False) as s:
        assert s.stage("audit")["status"] == "done"
        assert {r.status for r in s.judgments() if r.judge == "http:judge-x"} == {"ok"}
