"""The code is formatted and linted by ruff (`[tool.ruff]` in pyproject.toml: line length 120, rules E F W I B UP):
`ruff format --check` and `ruff check` pass on src/ tests/ bench/ tools/, and a planted bad file fails both,
so the configuration can fail. A failure shows ruff's own output (the diff to apply, each finding)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "pyproject.toml"
TREES = ["src", "tests", "bench", "tools"]
LIMIT = 120  # [tool.ruff] line-length


def ruff_command() -> list[str]:
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    if shutil.which("ruff"):
        return [str(shutil.which("ruff"))]
    why = "ruff is not installed: pip install -e '.[dev]' (make install does)"
    if os.environ.get("CI") == "true":
        pytest.fail(why)  # CI installs the dev extra; a skip there would hide unlinted code
    pytest.skip(why)


def ruff(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    cmd = [*ruff_command(), *args, "--config", str(CONFIG), "--no-cache"]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_ruff_format():
    done = ruff("format", "--check", "--diff", *TREES)
    assert done.returncode == 0, f"run `ruff format {' '.join(TREES)}`:\n{(done.stdout + done.stderr)[-12000:]}"


def test_ruff_check():
    done = ruff("check", "--output-format", "concise", *TREES)
    assert done.returncode == 0, f"`ruff check --fix` fixes some:\n{(done.stdout + done.stderr)[-12000:]}"


def test_no_line_over_the_limit():
    """E501 lets a line of one long word (a URL) pass; the project has none."""
    long = [
        f"{p.relative_to(ROOT)}:{i}"
        for tree in TREES
        for p in sorted((ROOT / tree).rglob("*.py"))
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if len(line) > LIMIT
    ]
    assert not long, f"{len(long)} lines over {LIMIT} characters: {', '.join(long[:20])}"


def test_a_planted_bad_file_fails_both(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(f"import sys\nimport os\nx=[1,2 ,3]\ny = {'1 + ' * 40}1\ndef f(items=[]):\n    return sys.argv\n")
    fmt = ruff("format", "--check", str(bad), cwd=tmp_path)
    assert fmt.returncode == 1 and "bad.py" in fmt.stdout + fmt.stderr
    found = ruff("check", "--output-format", "concise", str(bad), cwd=tmp_path).stdout
    for code in ("I001", "F401", "E501", "B006"):  # unsorted imports, unused os, the long line, a mutable default
        assert code in found, found
