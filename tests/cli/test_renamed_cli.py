"""Old spellings on the command line and in stored runs: `--batch-size`, `batch_size=` overrides, `unigap analyze`,
and a run stored under the old key names resumes."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from typer.testing import CliRunner

from unigap.cli import get_app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(get_app(), [str(a) for a in args])


def audit(tmp_path, ckpt, *extra):
    return invoke(
        "audit",
        "--out",
        tmp_path / "run",
        f"model.path={ckpt}",
        "prompts.per_subtask=1",
        "n=2",
        "n_boot=10",
        "judges=[]",
        *extra,
    )


def stored_config(run) -> dict:
    db = sqlite3.connect(run / "run.sqlite")
    try:
        return json.loads(db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
    finally:
        db.close()


def store_config(run, config: dict) -> None:
    db = sqlite3.connect(run / "run.sqlite")
    try:
        db.execute("UPDATE meta SET value = ? WHERE key = 'config'", (json.dumps(config),))
        db.commit()
    finally:
        db.close()


def test_an_audit_stored_under_the_old_key_resumes_and_the_old_override_still_works(tmp_path, tiny_ckpt_dir):
    res = audit(tmp_path, tiny_ckpt_dir, "chunk_size=4")
    assert res.exit_code == 0, res.output
    old = stored_config(tmp_path / "run")
    old["batch_size"] = old.pop("chunk_size")  # as an audit before the rename stored it
    store_config(tmp_path / "run", old)
    with pytest.warns(FutureWarning, match="override 'batch_size=4': key 'batch_size' is now 'chunk_size'"):
        res = audit(tmp_path, tiny_ckpt_dir, "batch_size=4")
    assert res.exit_code == 0, res.output
    res = audit(tmp_path, tiny_ckpt_dir, "chunk_size=8")  # a real difference is still one
    assert res.exit_code != 0 and "chunk_size: stored 4, now 8" in str(res.exception)


def test_judge_batch_size_is_chunk_size(tmp_path, tiny_ckpt_dir):
    assert audit(tmp_path, tiny_ckpt_dir).exit_code == 0
    with pytest.warns(FutureWarning, match="--batch-size is now --chunk-size"):
        res = invoke("judge", tmp_path / "run", "--judge", "oracle", "--batch-size", "3")
    assert res.exit_code == 0, res.output
    assert "oracle: judged 18 candidates, 0 failed" in res.output
    res = invoke("judge", tmp_path / "run", "--judge", "oracle", "--batch-size", "3", "--chunk-size", "5")
    assert res.exit_code != 0 and "--batch-size and --chunk-size are both given" in str(res.exception or res.output)


def test_analyze_runs_analyse_and_says_how_it_is_spelled(tmp_path, finished_run):
    run = shutil.copytree(finished_run, tmp_path / "run")
    (run / "analysis.json").unlink()
    res = runner.invoke(get_app(), ["analyze", str(run), "--entk-samples", "0"])
    assert res.exit_code == 0, res.output
    assert "spells this command `unigap analyse`" in res.stderr and (run / "analysis.json").is_file()
    assert "analyze" not in invoke("--help").output  # one spelling shown
