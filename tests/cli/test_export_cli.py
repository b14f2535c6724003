"""`unigap export geneval|t2i-compbench|hf` through the real app."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from unigap.cli import get_app
from unigap.errors import UnigapError
from unigap.prompts.geneval import load_geneval
from unigap.prompts.t2i_compbench import load_t2i_compbench
from unigap.store import CandidateIn, RunStore

runner = CliRunner()


@pytest.fixture
def run(tmp_path):
    meta = tmp_path / "evaluation_metadata.jsonl"
    meta.write_text(
        json.dumps({"tag": "single_object", "include": [{"class": "cow", "count": 1}], "prompt": "a photo of a cow"})
    )
    t2i = tmp_path / "t2i"
    t2i.mkdir()
    (t2i / "shape_val.txt").write_text("a round cake\na square box")
    prompts = load_geneval(path=meta) + load_t2i_compbench(split="val", subtasks=["shape"], path=t2i)
    with RunStore.open(tmp_path / "run") as store:
        store.add_prompts(prompts)
        store.add_candidates(
            "base",
            [
                CandidateIn(p.id, i, i, np.zeros(4, np.int64), np.full((8, 8, 3), i, np.uint8))
                for p in prompts
                for i in range(2)
            ],
        )
    return tmp_path / "run"


def test_export_geneval_and_t2i(run, tmp_path):
    result = runner.invoke(get_app(), ["export", "geneval", str(run), "--out", str(tmp_path / "g")])
    assert result.exit_code == 0, result.output
    assert "wrote 2 image(s) of 1 prompt(s)" in result.output
    assert sorted(p.name for p in (tmp_path / "g" / "00000" / "samples").iterdir()) == ["0000.png", "0001.png"]
    result = runner.invoke(get_app(), ["export", "t2i-compbench", str(run), "--out", str(tmp_path / "t")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "t" / "samples").iterdir()) == [
        "a round cake_000000.png",
        "a round cake_000001.png",
        "a square box_000002.png",
        "a square box_000003.png",
    ]


def test_export_hf(run, tmp_path):
    from datasets import load_from_disk

    result = runner.invoke(get_app(), ["export", "hf", str(run), "--out", str(tmp_path / "hf")])
    assert result.exit_code == 0, result.output
    ds = load_from_disk(str(tmp_path / "hf"))
    assert len(ds) == 6 and set(ds["suite"]) == {"geneval", "t2i-compbench"}


def test_export_errors(run, tmp_path):
    result = runner.invoke(get_app(), ["export", "geneval", str(tmp_path / "nope"), "--out", str(tmp_path / "g")])
    assert isinstance(result.exception, UnigapError) and "no run store here" in str(result.exception)
    result = runner.invoke(
        get_app(), ["export", "t2i-compbench", str(run), "--out", str(tmp_path / "t"), "--subtask", "color"]
    )
    assert isinstance(result.exception, UnigapError) and "present: shape" in str(result.exception)
