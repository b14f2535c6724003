"""The core install (no extras) runs the embedded default: transformers, accelerate, peft, starlette,
uvicorn, httpx, tokenizers and lmms-eval cannot be imported in the subprocess, and `unigap run`,
`audit`, `show` and `report` still work on the tiny model; a command that needs an extra names it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

BLOCKED = ("transformers", "accelerate", "peft", "starlette", "uvicorn", "httpx", "tokenizers", "lmms_eval", "selenium")

BLOCKER = textwrap.dedent(f"""
    import sys, importlib.abc
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {BLOCKED!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}} (blocked: core install test)", name=name)
            return None
    sys.meta_path.insert(0, Block())
    import importlib.util
    _find = importlib.util.find_spec
    importlib.util.find_spec = lambda name, *a, **k: None if name.split(".")[0] in {BLOCKED!r} else _find(name, *a, **k)
    from unigap.cli import main
    sys.argv = ["unigap", *sys.argv[1:]]
    main()
""")

SMALL_RUN = [
    "n=2",
    "train_prompts.per_subtask=3",
    "eval_prompts.per_subtask=2",
    "eval_n=1",
    "improve.epochs=2",
    "improve.curriculum.epoch=1",
    "improve.curriculum.n=2",
    "n_boot=20",
    "chunk_size=32",
]


def unigap(*args: str, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}  # rich wraps at 80 columns otherwise
    return subprocess.run(
        [sys.executable, "-c", BLOCKER, *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env
    )


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_core_install_runs_the_default_loop(tmp_path):
    run = unigap("run", "--out", str(tmp_path / "run"), *SMALL_RUN, "improve.guard.threshold=0", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / "run" / "report.html").is_file() and (
        tmp_path / "run" / "improve" / "model" / "card.json"
    ).is_file()
    audit = unigap("audit", "--out", str(tmp_path / "audit"), "n=1", "prompts.per_subtask=1", "n_boot=10", cwd=tmp_path)
    assert audit.returncode == 0, audit.stderr[-3000:]
    show = unigap("show", str(tmp_path / "audit"), cwd=tmp_path)
    assert show.returncode == 0 and "non-unification" in show.stdout
    report = unigap("report", str(tmp_path / "run"), cwd=tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]


def test_a_command_that_needs_an_extra_names_it(tmp_path):
    res = unigap("audit", "--out", str(tmp_path / "a"), "model.name=janus", f"model.path={tmp_path}", cwd=tmp_path)
    assert res.returncode == 2
    assert "pip install 'unigap[hf]'" in " ".join((res.stderr + res.stdout).split())
    assert not (tmp_path / "a").exists()
