"""`unigap prompts show|check` through the real app."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from unigap.cli import get_app
from unigap.errors import UnigapError

runner = CliRunner()


def shared_benchmarks() -> Path:
    env = os.environ.get("UNIGAP_SHARED")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / ".." / "shared"
    return root if (root / "geneval").is_dir() else root / "benchmarks"


def write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return path


def test_show_counts_per_subtask(tmp_path):
    f = write_jsonl(tmp_path / "p.jsonl", [{"prompt": f"p{i}", "subtask": "a" if i < 3 else "b"} for i in range(5)])
    result = runner.invoke(get_app(), ["prompts", "show", str(f)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any("│ a " in line and "│ 3 " in line for line in lines) and any(
        "│ b " in line and "│ 2 " in line for line in lines
    )
    assert any("total" in line and "5" in line for line in lines)


def test_check_lists_overlaps(tmp_path):
    train = write_jsonl(
        tmp_path / "train.jsonl",
        [
            {"prompt": "a red car", "subtask": "c"},
            {"prompt": "A cat.", "subtask": "c"},
            {"prompt": "a dog", "subtask": "c"},
        ],
    )
    ev = write_jsonl(
        tmp_path / "eval.jsonl", [{"prompt": "a red car", "subtask": "c"}, {"prompt": "a cat", "subtask": "c"}]
    )
    result = runner.invoke(get_app(), ["prompts", "check", str(train), str(ev)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "exact overlaps: 1" in result.output and "normalised-only overlaps: 1" in result.output
    assert "train prompts: 3" in result.output and "A cat." in result.output
    failing = runner.invoke(get_app(), ["prompts", "check", "--fail", str(train), str(ev)])
    assert failing.exit_code == 1


def test_bad_spec_is_a_unigap_error(tmp_path):
    result = runner.invoke(get_app(), ["prompts", "show", "nosuch:/x"])
    assert isinstance(result.exception, UnigapError) and "neither an existing file" in str(result.exception)


@pytest.mark.skipif(
    not (shared_benchmarks() / "t2i-compbench" / "spatial_val.txt").is_file(),
    reason="shared benchmark files not found (set UNIGAP_SHARED)",
)
def test_check_real_spatial_finds_two_shared_prompts():
    folder = shared_benchmarks() / "t2i-compbench"
    result = runner.invoke(
        get_app(),
        ["prompts", "check", "--subtask", "spatial", f"t2i-compbench:{folder}:train", f"t2i-compbench:{folder}:val"],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 0, result.output
    assert "train prompts: 700" in result.output and "eval prompts: 300" in result.output
    assert "exact overlaps: 2" in result.output and "normalised-only overlaps: 0" in result.output
    assert "a boy on the top of a wallet" in result.output and "a giraffe on the right of a wallet" in result.output
