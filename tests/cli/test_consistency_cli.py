"""Issue 23 through the CLI: what the store holds is checked against what the user gives, failures are
reported and retried, progress shows without a terminal, a read-only run can be reported."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from unigap.cli import get_app
from unigap.errors import UnigapError

runner = CliRunner()
V1 = (
    '{"id": "a", "prompt": "a red circle", "subtask": "s"}\n{"id": "b", "prompt": "a blue square", "subtask": "s"}\n'
    '{"id": "c", "prompt": "a green cross", "subtask": "s"}\n'
)
GROWN = V1 + '{"id": "d", "prompt": "a small cross", "subtask": "s"}\n'
SHRUNK = "\n".join(V1.splitlines()[:2]) + "\n"


def invoke(*args, env=None):
    return runner.invoke(get_app(), [str(a) for a in args], env=env)


def audit_custom(tmp_path, ckpt, text, *extra, name="p.jsonl"):
    path = tmp_path / name
    path.write_text(text)
    return invoke(
        "audit",
        "--out",
        tmp_path / "out",
        f"model.path={ckpt}",
        "prompts.suite=custom",
        f"prompts.options.path={path}",
        "n=2",
        "n_boot=10",
        "judges=[]",
        *extra,
    )


def stored(run: Path, sql: str) -> list:
    db = sqlite3.connect(run / "run.sqlite")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_add_prompts_audits_only_what_is_new(tmp_path, tiny_ckpt_dir):
    assert audit_custom(tmp_path, tiny_ckpt_dir, V1).exit_code == 0
    before = stored(tmp_path / "out", "SELECT prompt_id, idx, tokens FROM candidates ORDER BY prompt_id, idx")
    result = audit_custom(tmp_path, tiny_ckpt_dir, GROWN, "--add-prompts")
    assert result.exit_code == 0, result.output
    after = stored(tmp_path / "out", "SELECT prompt_id, idx, tokens FROM candidates ORDER BY prompt_id, idx")
    assert after[: len(before)] == before and [r[:2] for r in after[len(before) :]] == [("d", 0), ("d", 1)]
    hashes = dict(stored(tmp_path / "out", "SELECT id, text_sha256 FROM prompts"))
    assert set(hashes) == {"a", "b", "c", "d"} and all(len(h) == 64 for h in hashes.values())
    # a prompt removed from the file stays stored but leaves this run's metrics
    result = audit_custom(tmp_path, tiny_ckpt_dir, SHRUNK, "--add-prompts")
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["counts"]["prompts"] == 4 and metrics["unparsed"]["self"]["unparsed"] == 2 * 2  # a, b only


def test_a_refused_long_prompt_leaves_nothing_and_the_fixed_rerun_starts_clean(tmp_path, tiny_ckpt_dir):
    """The issue's case: a refused 10,009-character prompt used to leave run.sqlite with its text in it."""
    long = json.dumps({"id": "x", "prompt": "a red circle " * 770, "subtask": "s"}) + "\n"
    result = audit_custom(tmp_path, tiny_ckpt_dir, long)
    assert isinstance(result.exception, UnigapError) and "cannot take" in str(result.exception)
    assert not (tmp_path / "out").exists()
    result = audit_custom(tmp_path, tiny_ckpt_dir, '{"id": "x", "prompt": "a red circle", "subtask": "s"}\n')
    assert result.exit_code == 0, result.output
    assert stored(tmp_path / "out", "SELECT text FROM prompts") == [("a red circle",)]
    assert stored(tmp_path / "out", "SELECT count(*) FROM judgments WHERE status = 'failed'") == [(0,)]


def test_csv_and_jsonl_with_a_byte_order_mark(tmp_path, tiny_ckpt_dir):
    (tmp_path / "p.csv").write_bytes("\ufeffprompt,subtask\na red circle,s\n".encode("utf-8"))
    result = invoke(
        "audit",
        "--out",
        tmp_path / "out",
        f"model.path={tiny_ckpt_dir}",
        "prompts.suite=custom",
        f"prompts.options.path={tmp_path / 'p.csv'}",
        "n=1",
        "n_boot=10",
        "judges=[]",
        "--dry-run",
    )
    assert result.exit_code == 0, result.output
    result = audit_custom(tmp_path, tiny_ckpt_dir, "\ufeff" + V1, name="bom.jsonl")
    assert result.exit_code == 0, result.output


class Scripted(BaseHTTPRequestHandler):
    """An OpenAI-compatible judge that fails every request (HTTP 400) until `ok` is set."""

    ok = False

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        if Scripted.ok:
            body, code = {"choices": [{"message": {"content": "The score is 1."}}]}, 200
        else:
            body, code = {"error": {"message": "model 'judge-x' is not loaded"}}, 400
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def judge_server():
    server = HTTPServer(("127.0.0.1", 0), Scripted)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Scripted.ok = False
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_judge_whose_every_call_fails_exits_non_zero_then_a_rerun_retries(tmp_path, tiny_ckpt_dir, judge_server):
    args = [
        "audit",
        "--out",
        tmp_path / "out",
        f"model.path={tiny_ckpt_dir}",
        "prompts.per_subtask=1",
        "n=1",
        "n_boot=10",
        f"judges=[{{name: http, options: {{base_url: '{judge_server}', model: judge-x}}}}]",
    ]
    result = invoke(*args)
    assert isinstance(result.exception, UnigapError), result.output
    message = str(result.exception)
    assert "all 9 judgments failed" in message and "model 'judge-x' is not loaded" in message
    assert stored(tmp_path / "out", "SELECT status FROM stages WHERE name = 'audit'") == [("failed",)]
    assert stored(tmp_path / "out", "SELECT count(*) FROM candidates") == [(9,)]  # the candidates stay
    curate = invoke("curate", tmp_path / "out", "--out", tmp_path / "data")
    assert isinstance(curate.exception, UnigapError) and "every verdict of http:judge-x failed" in str(curate.exception)
    Scripted.ok = True
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert stored(
        tmp_path / "out", "SELECT status, count(*) FROM judgments WHERE judge = 'http:judge-x' GROUP BY status"
    ) == [("ok", 9)]
    assert stored(tmp_path / "out", "SELECT status FROM stages WHERE name = 'audit'") == [("done",)]


def test_failures_show_in_the_table_footnote(tmp_path, tiny_ckpt_dir):
    from unigap.cli.show import failure_footnote

    lines = failure_footnote(
        {
            "oracle": {"failed": 6, "of": 6, "first_reason": "prompt p has no ShapeWorld spec"},
            "generation": {"failed": 1, "of": None, "first_reason": "image does not decode"},
        }
    )
    assert lines[0] == "* 6 of 6 oracle judgments failed; first reason: prompt p has no ShapeWorld spec"
    assert "could not be generated" in lines[1] and "rerun" in lines[2]


def test_progress_lines_without_a_terminal_and_a_resumed_stage_says_so(tmp_path, tiny_ckpt_dir):
    args = [
        "audit",
        "--out",
        tmp_path / "out",
        f"model.path={tiny_ckpt_dir}",
        "prompts.per_subtask=2",
        "n=2",
        "chunk_size=4",
        "n_boot=10",
        "judges=[]",
    ]
    result = invoke(*args, env={"UNIGAP_PROGRESS_EVERY": "0"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("generate [base]: ") and "/s, ETA" in line for line in lines), result.output
    assert any(line.startswith("generate [base]: 36/36 done in") for line in lines)
    db = sqlite3.connect(tmp_path / "out" / "run.sqlite")
    with db:
        db.execute("DELETE FROM judgments WHERE candidate_id > 30")
    db.close()
    result = invoke(*args, env={"UNIGAP_PROGRESS_EVERY": "0"})
    assert "generate [base]: resuming, 36 of 36 already done" in result.output
    assert "judge [self]: resuming, 30 of 36 already done" in result.output


def test_report_of_a_read_only_run_with_out_elsewhere(tmp_path, finished_run, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    import os

    # as if the run dir were on a read-only disk (root, who runs CI here, ignores permissions)
    monkeypatch.setattr(os, "access", lambda path, mode: mode != os.W_OK)
    before = sorted(p.name for p in run.iterdir())
    result = invoke("report", run, "--out", tmp_path / "elsewhere" / "r.html")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "elsewhere" / "r.html").stat().st_size > 1000
    assert sorted(p.name for p in run.iterdir() if not p.name.startswith("run.sqlite-")) == before


@pytest.mark.skipif(
    hasattr(__import__("os"), "geteuid") and __import__("os").geteuid() == 0,
    reason="root ignores directory permissions",
)
def test_report_of_a_really_read_only_run(tmp_path, finished_run):
    import os
    import stat

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    for p in [run, *run.rglob("*")]:
        os.chmod(p, stat.S_IREAD | stat.S_IEXEC if p.is_dir() else stat.S_IREAD)
    try:
        result = invoke("report", run, "--out", tmp_path / "r.html")
        assert result.exit_code == 0, result.output
    finally:
        for p in [run, *run.rglob("*")]:
            os.chmod(p, stat.S_IRWXU)
