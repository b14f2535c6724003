"""Science-T2I loader on small parquet / JSONL files with the hub dataset's columns."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from unigap.errors import DataError, UnigapError
from unigap.prompts.science_t2i import load_science_t2i

ROWS = [
    {
        "implicit_prompt": "an ice cube left in the sun for an hour",
        "explicit_prompt": "a puddle of water",
        "superficial_prompt": "an ice cube in the sun",
        "category": "Physics",
        "law": "Melting",
    },
    {
        "implicit_prompt": "an iron nail left in the rain for a year",
        "explicit_prompt": "a rusty nail",
        "superficial_prompt": "a shiny nail",
        "category": "Chemistry",
        "law": "Rusting",
    },
    {
        "implicit_prompt": "a banana after two weeks",
        "explicit_prompt": "a brown banana",
        "superficial_prompt": "a yellow banana",
        "category": "Biology",
        "law": "Ripening",
    },
]


def write_parquet(path, rows, with_images=True):
    table = pa.Table.from_pylist(
        [
            dict(r, explicit_image=[{"bytes": b"x", "path": None}], superficial_image=[{"bytes": b"y", "path": None}])
            if with_images
            else r
            for r in rows
        ]
    )
    pq.write_table(table, path)
    return path


def test_parquet_drops_images_and_lowercases_category(tmp_path):
    prompts = load_science_t2i(path=write_parquet(tmp_path / "s.parquet", ROWS))
    assert [p.subtask for p in prompts] == ["physics", "chemistry", "biology"]
    assert prompts[0].text == ROWS[0]["implicit_prompt"] and prompts[0].id == "science-t2i/eval/0000"
    assert prompts[1].metadata["explicit_prompt"] == "a rusty nail" and prompts[1].metadata["law"] == "Rusting"
    assert "explicit_image" not in prompts[0].metadata and prompts[0].metadata["superficial_prompt"]


def test_jsonl_and_subtask_filter(tmp_path):
    f = tmp_path / "s.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in ROWS))
    prompts = load_science_t2i(path=f, subtasks=["biology"], split="test")
    assert [(p.text, p.split) for p in prompts] == [("a banana after two weeks", "eval")]
    with pytest.raises(UnigapError, match="no prompts of subtask.*astronomy.*present: biology, chemistry"):
        load_science_t2i(path=f, subtasks=["astronomy"])


def test_missing_column_names_file_and_column(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "law"} for r in ROWS]
    with pytest.raises(DataError, match=r"s\.parquet.*missing required column\(s\) law"):
        load_science_t2i(path=write_parquet(tmp_path / "s.parquet", rows, with_images=False))
    f = tmp_path / "s.jsonl"
    f.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps(rows[1]))
    with pytest.raises(DataError, match=r"s\.jsonl:2: missing required column\(s\) law"):
        load_science_t2i(path=f)
