"""`unigap label RUN_DIR | export | import` through the real app, and the server under Ctrl-C."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.label.label_helpers import labels, make_run
from unigap.cli import get_app
from unigap.errors import DataError

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(tmp_path):
    return tmp_path / "run", make_run(tmp_path / "run")


@pytest.fixture
def fake_serve(monkeypatch):
    """Record serve()'s arguments instead of serving."""
    calls = []

    def serve(run_dir, name, sample, seed, source, show_judges, port, announce=None):
        calls.append(
            dict(
                run_dir=Path(run_dir),
                name=name,
                sample=sample,
                seed=seed,
                source=source,
                show_judges=show_judges,
                port=port,
            )
        )
        return {"done": 0, "total": 3, "judge": f"human:{name}"}

    monkeypatch.setattr("unigap.label.app.serve", serve)
    return calls


@pytest.mark.parametrize(
    "args",
    [
        ["label", "RUN", "--sample", "3", "--seed", "2", "--name", "bob", "--show-judges", "--source", "base"],
        ["label", "--sample", "3", "RUN", "--seed", "2", "--name", "bob", "--show-judges", "--source", "base"],
        ["label", "serve", "RUN", "-k", "3", "--seed", "2", "--name", "bob", "--show-judges", "--source", "base"],
    ],
)
def test_label_run_dir_serves(run, fake_serve, args):
    path, _ = run
    result = runner.invoke(get_app(), [str(path) if a == "RUN" else a for a in args])
    assert result.exit_code == 0, result.output
    assert fake_serve == [dict(run_dir=path, name="bob", sample=3, seed=2, source="base", show_judges=True, port=0)]
    assert "stopped: 0 / 3 labelled as human:bob" in result.output


def test_label_defaults_are_judge_blind_and_all_candidates(run, fake_serve):
    path, _ = run
    assert runner.invoke(get_app(), ["label", str(path), "--judge-blind"]).exit_code == 0
    (call,) = fake_serve
    assert (call["sample"], call["show_judges"], call["port"], call["source"]) == (None, False, 0, None)
    assert call["name"]  # the login name
    help_text = runner.invoke(get_app(), ["label", "--help"]).output
    assert all(cmd in help_text for cmd in ("serve", "export", "import"))
    assert runner.invoke(get_app(), ["label", str(path), "--sample", "0"]).exit_code != 0


def test_export_then_import_through_the_cli(run, tmp_path):
    path, ids = run
    out_csv = tmp_path / "l.csv"
    result = runner.invoke(get_app(), ["label", "export", str(path), "--csv", str(out_csv)])
    assert result.exit_code == 0 and f"wrote {len(ids)} rows" in result.output, result.output
    with open(out_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    rows[0]["label"], rows[1]["label"] = "1", "0"
    with open(out_csv, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = runner.invoke(get_app(), ["label", "import", str(path), "--csv", str(out_csv), "--name", "ann"])
    assert result.exit_code == 0 and "human:ann: imported 2 labels" in result.output, result.output
    assert labels(path, "human:ann") == {int(rows[0]["candidate_id"]): 1, int(rows[1]["candidate_id"]): 0}
    (tmp_path / "bad.csv").write_text("candidate_id,label\n99999,1\n")
    bad = runner.invoke(get_app(), ["label", "import", str(path), "--csv", str(tmp_path / "bad.csv"), "--name", "ann"])
    assert isinstance(bad.exception, DataError) and "line 2: unknown candidate id 99999" in str(bad.exception)


def _wait_for_url(proc: subprocess.Popen, timeout: float = 30.0) -> str:
    deadline, seen = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        seen.append(line)
        if m := re.search(r"open (http://127\.0\.0\.1:\d+/\?token=\S+)", line):
            return m.group(1)
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"no URL printed: {seen} {proc.stderr.read() if proc.poll() is not None else ''}")


def test_server_process_serves_and_stops_cleanly_on_ctrl_c(run):
    path, _ = run
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "unigap", "label", str(path), "--name", "zed"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _wait_for_url(proc)
        base = url.split("?")[0]
        assert httpx.get(base + "api/state").status_code == 403
        with httpx.Client() as client:
            assert client.get(url).status_code == 200
            item = client.get(base + "api/state").json()["item"]
            assert client.post(base + "api/label", json={"candidate_id": item["id"], "verdict": 1}).status_code == 200
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "stopped: 1 / 6 labelled as human:zed" in stdout + stderr
    assert labels(path, "human:zed") == {item["id"]: 1}


def test_nothing_to_label_and_port_in_use_are_clear_errors(run):
    from unigap.errors import UnigapError
    from unigap.label.app import bind, serve

    path, _ = run
    with pytest.raises(UnigapError, match="no candidates of source 'improved' to label"):
        serve(path, "x", source="improved")
    with pytest.raises(UnigapError, match="no run store"):
        serve(path.parent / "missing", "x")
    taken = bind(0)
    try:
        with pytest.raises(UnigapError, match="choose another --port"):
            serve(path, "x", port=taken.getsockname()[1])
    finally:
        taken.close()
