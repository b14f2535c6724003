"""`unigap understand MODEL_DIR --tasks ... --out DIR`."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from unigap.cli.understand import guess_backend, parse_data, parse_options, register
from unigap.errors import UnigapError


def app() -> typer.Typer:
    a = typer.Typer()
    register(a)

    @a.callback()
    def _root() -> None:  # keep `understand` a subcommand, as in the unigap app
        pass

    return a


def test_understand_writes_scores_with_provenance(lmms, tmp_path, tiny_ckpt_dir):
    out = tmp_path / "und"
    res = CliRunner().invoke(
        app(),
        [
            "understand",
            str(tiny_ckpt_dir),
            "--tasks",
            "shapeworld_plain",
            "--limit",
            "3",
            "--per-subtask",
            "1",
            "--seed",
            "2",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "shapeworld_plain" in res.output and "exact_match" in res.output
    saved = json.loads((out / "understand.json").read_text())
    assert saved["provenance"]["backend"] == "tiny" and saved["provenance"]["limit"] == 3
    assert saved["provenance"]["seed"] == 2 and saved["n"]["shapeworld_plain"]["effective"] == 3


def test_unknown_task_from_the_cli(lmms, tmp_path, tiny_ckpt_dir):
    res = CliRunner().invoke(
        app(),
        ["understand", str(tiny_ckpt_dir), "--tasks", "shapeworld_plian", "--per-subtask", "1", "--out", str(tmp_path)],
    )
    assert isinstance(res.exception, UnigapError) and "close matches shapeworld_plain" in str(res.exception)


def test_backend_guess_and_data_pairs(tmp_path, tiny_ckpt_dir):
    assert guess_backend(None) == "tiny" and guess_backend(str(tiny_ckpt_dir)) == "tiny"
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "janus"}))
    assert guess_backend(str(tmp_path)) == "janus" and guess_backend("deepseek-ai/Janus-Pro-7B") == "janus"
    original = tmp_path / "ckpt"  # deepseek-ai's own format, in a directory whose name says nothing
    original.mkdir()
    (original / "config.json").write_text(json.dumps({"model_type": "multi_modality"}))
    assert guess_backend(str(original)) == "janus"
    assert parse_data(["pope=/data/pope", "gqa = x.parquet"]) == {"pope": "/data/pope", "gqa": "x.parquet"}
    with pytest.raises(UnigapError, match="TASK=PATH"):
        parse_data(["pope"])
    assert parse_options(["understanding_path=BAAI/Emu3-Chat-hf", "steps=4", "flag=true"]) == {
        "understanding_path": "BAAI/Emu3-Chat-hf",
        "steps": 4,
        "flag": True,
    }
