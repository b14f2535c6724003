"""The paper's 9-subtask preset built from small files of the three benchmarks."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from unigap.errors import UnigapError
from unigap.prompts.paper9 import SuiteWarning, load_paper9
from unigap.prompts.t2i_compbench import CATEGORIES

TAGS = ["single_object", "two_object", "counting", "colors", "position", "color_attr"]


@pytest.fixture
def files(tmp_path):
    g = tmp_path / "evaluation_metadata.jsonl"
    g.write_text(
        "\n".join(json.dumps({"tag": t, "include": [], "prompt": f"a {t} {i}"}) for t in TAGS for i in range(2))
    )
    t2i = tmp_path / "t2i"
    t2i.mkdir()
    for cat in CATEGORIES:
        (t2i / f"{cat}_val.txt").write_text("\n".join(f"{cat} val {i}" for i in range(3)))
        (t2i / f"{cat}_train.txt").write_text("\n".join(f"{cat} train {i}" for i in range(4)))
    sci = tmp_path / "sci.jsonl"
    sci.write_text(
        "\n".join(
            json.dumps(
                {
                    "implicit_prompt": f"{c} {i}",
                    "explicit_prompt": "e",
                    "superficial_prompt": "s",
                    "category": c,
                    "law": "l",
                }
            )
            for c in ("Physics", "Chemistry", "Biology")
            for i in range(2)
        )
    )
    return {"geneval": g, "t2i_compbench": t2i, "science_t2i": sci}


def test_nine_subtasks_with_bands(files):
    prompts = load_paper9(**files)
    counts = Counter((p.band, p.subtask) for p in prompts)
    assert counts == {
        ("easy", "single_object"): 2,
        ("easy", "two_object"): 2,
        ("easy", "color_attr"): 2,
        ("medium", "texture"): 3,
        ("medium", "spatial"): 3,
        ("medium", "complex"): 3,
        ("hard", "physics"): 2,
        ("hard", "chemistry"): 2,
        ("hard", "biology"): 2,
    }
    assert {p.split for p in prompts} == {"eval"}
    assert {p.suite for p in prompts} == {"geneval", "t2i-compbench", "science-t2i"}


def test_without_science_warns_and_builds_six(files):
    files.pop("science_t2i")
    with pytest.warns(SuiteWarning, match="science_t2i=<file> not given.*6 subtasks"):
        prompts = load_paper9(**files)
    assert len({p.subtask for p in prompts}) == 6


def test_train_split_uses_t2i_train_only(files):
    with pytest.warns(SuiteWarning, match="evaluation-only"):
        prompts = load_paper9(split="train", t2i_compbench=files["t2i_compbench"])
    assert Counter(p.subtask for p in prompts) == {"texture": 4, "spatial": 4, "complex": 4}
    assert {p.split for p in prompts} == {"train"} and {p.band for p in prompts} == {"medium"}


def test_errors(files):
    with pytest.raises(UnigapError, match="needs the option geneval="):
        load_paper9(t2i_compbench=files["t2i_compbench"], science_t2i=files["science_t2i"])
    with pytest.raises(UnigapError, match="unknown subtask"):
        load_paper9(subtasks=["counting"], **files)
    with pytest.raises(UnigapError, match="unknown option"):
        load_paper9(genevl="x", **files)
    only_easy = load_paper9(subtasks=["two_object"], geneval=files["geneval"])
    assert [p.subtask for p in only_easy] == ["two_object", "two_object"]
