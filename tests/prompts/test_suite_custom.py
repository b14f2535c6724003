"""Custom JSONL / CSV / txt prompt files."""

from __future__ import annotations

import json

import pytest

from unigap.errors import DataError, UnigapError
from unigap.prompts.custom import load_custom


def test_jsonl_fields_split_and_metadata(tmp_path):
    f = tmp_path / "mine.jsonl"
    rows = [
        {"prompt": "a red cube", "subtask": "color", "band": "easy", "source_url": "x"},
        {"prompt": "two dogs", "subtask": "count", "split": "train"},
        {"id": "k9", "prompt": "a dog left of a cat", "subtask": "spatial", "split": "eval", "n": 3},
    ]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    load = load_custom
    ev = load(path=f)
    assert [p.id for p in ev] == ["custom/mine/00001", "k9"]
    assert ev[0].band == "easy" and ev[0].metadata == {"source_url": "x"} and ev[1].metadata == {"n": 3}
    tr = load(path=f, split="train")
    assert [(p.text, p.split) for p in tr] == [("a red cube", "train"), ("two dogs", "train")]
    assert [p.text for p in load(path=f, subtasks=["spatial"])] == ["a dog left of a cat"]


def test_csv_and_txt(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text('prompt,subtask,band,note\na red cube,color,,hi\n"a cat, sleeping",action,hard,\n')
    prompts = load_custom(path=f)
    assert [(p.text, p.band, p.metadata) for p in prompts] == [
        ("a red cube", None, {"note": "hi"}),
        ("a cat, sleeping", "hard", {"note": ""}),
    ]
    t = tmp_path / "objects.txt"
    t.write_text("a cat\n\na dog")
    assert [(p.subtask, p.metadata["line"]) for p in load_custom(path=t)] == [("objects", 1), ("objects", 3)]


def test_bad_lines_name_file_line_and_field(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text(json.dumps({"prompt": "a", "subtask": "s"}) + "\n" + json.dumps({"prompt": "b"}) + "\n")
    with pytest.raises(DataError, match=r"p\.jsonl:2: missing field 'subtask'"):
        load_custom(path=f)
    f.write_text(json.dumps({"prompt": "a", "subtask": "s"}) + "\nnot json\n")
    with pytest.raises(DataError, match=r"p\.jsonl:2: invalid JSON"):
        load_custom(path=f)
    c = tmp_path / "p.csv"
    c.write_text("prompt,subtask,band\na,s,easy\nb,s,impossible\n")
    with pytest.raises(DataError, match=r"p\.csv:3: field 'band' must be one of easy, medium, hard"):
        load_custom(path=c)
    c.write_text("prompt,subtask\na,s,extra\n")
    with pytest.raises(DataError, match=r"p\.csv:2: more cells"):
        load_custom(path=c)
    with pytest.raises(DataError, match="unsupported prompt file type"):
        (tmp_path / "p.yaml").write_text("x")
        load_custom(path=tmp_path / "p.yaml")
    with pytest.raises(UnigapError, match="unknown option"):
        load_custom(path=c, colour="red")
