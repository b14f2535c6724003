"""GenEval loader on small files in the official evaluation_metadata.jsonl format."""

from __future__ import annotations

import json

import pytest

from unigap.errors import DataError, UnigapError
from unigap.prompts.base import SuiteConfig, load_prompts
from unigap.prompts.geneval import load_geneval

LINES = [
    {"tag": "single_object", "include": [{"class": "bench", "count": 1}], "prompt": "a photo of a bench"},
    {
        "tag": "counting",
        "include": [{"class": "clock", "count": 2}],
        "exclude": [{"class": "clock", "count": 3}],
        "prompt": "a photo of two clocks",
    },
    {
        "tag": "position",
        "include": [{"class": "teddy bear", "count": 1}, {"class": "dog", "count": 1, "position": ["right of", 0]}],
        "prompt": "a photo of a dog right of a teddy bear",
    },
]


def write(path, lines):
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def test_loads_ids_subtasks_and_verbatim_metadata(tmp_path):
    f = write(tmp_path / "evaluation_metadata.jsonl", LINES)
    prompts = load_geneval(path=f)
    assert [p.id for p in prompts] == ["geneval/00000", "geneval/00001", "geneval/00002"]
    assert [p.subtask for p in prompts] == ["single_object", "counting", "position"]
    assert prompts[1].metadata == {"index": 1, "geneval": LINES[1]}
    assert {p.suite for p in prompts} == {"geneval"} and {p.split for p in prompts} == {"eval"}
    assert all(p.band is None for p in prompts)


def test_subtask_filter_keeps_file_index(tmp_path):
    f = write(tmp_path / "m.jsonl", LINES)
    prompts = load_prompts(SuiteConfig(suite="geneval", subtasks=["position"], options={"path": str(f)}))
    assert [(p.id, p.metadata["index"]) for p in prompts] == [("geneval/00002", 2)]


def test_malformed_line_names_file_and_line(tmp_path):
    f = write(tmp_path / "m.jsonl", [LINES[0], '{"tag": "counting", "prompt": ', LINES[1]])
    with pytest.raises(DataError, match=r"m\.jsonl:2: invalid JSON"):
        load_geneval(path=f)


def test_missing_field_names_line_and_field(tmp_path):
    f = write(tmp_path / "m.jsonl", [LINES[0], {"tag": "counting", "prompt": "x"}])
    with pytest.raises(DataError, match=r"m\.jsonl:2: missing field 'include'"):
        load_geneval(path=f)


def test_unknown_tag_lists_known_tags(tmp_path):
    f = write(tmp_path / "m.jsonl", [dict(LINES[0], tag="shapes")])
    with pytest.raises(DataError, match=r"m\.jsonl:1: unknown tag 'shapes'.*single_object, two_object, counting"):
        load_geneval(path=f)


def test_train_split_and_missing_path_are_errors(tmp_path):
    f = write(tmp_path / "m.jsonl", LINES)
    with pytest.raises(UnigapError, match="evaluation-only"):
        load_geneval(split="train", path=f)
    with pytest.raises(UnigapError, match="needs the option path="):
        load_geneval()
    with pytest.raises(DataError, match="not found"):
        load_geneval(path=tmp_path / "nope.jsonl")
    with pytest.raises(UnigapError, match="unknown subtask"):
        load_geneval(path=f, subtasks=["shapes"])
