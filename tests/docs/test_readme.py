"""The README's Python example runs as printed (so it cannot rot)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.M | re.S)


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path, monkeypatch):
    blocks = python_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) == 1, "the README has one Python example; this test runs it"
    monkeypatch.chdir(tmp_path)  # the example writes runs/api_audit relative to the working directory
    scope: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), scope)
    assert len(scope["verdicts"]) == len(scope["prompts"]) == 9  # one ShapeWorld prompt per subtask
    assert {v.verdict for v in scope["verdicts"]} <= {0, 1, None}
    assert tuple(scope["out"].images.shape) == (9, 32, 32, 3)
    assert (tmp_path / "runs" / "api_audit" / "metrics.json").is_file()
    bands = scope["bands"]
    assert set(bands) == {"easy", "medium", "hard"}
    assert all(0.0 <= b["value"] <= 1.0 for b in bands.values())
