"""T2I-CompBench loader on small <category>_{train,val}.txt folders."""

from __future__ import annotations

import pytest

from unigap.errors import DataError, UnigapError
from unigap.prompts.t2i_compbench import CATEGORIES, load_t2i_compbench


def make_folder(root, n_val=3, n_train=5):
    for cat in CATEGORIES:
        (root / f"{cat}_val.txt").write_text("\r\n".join(f"{cat} val prompt {i}" for i in range(n_val)))
        (root / f"{cat}_train.txt").write_text("\n".join(f"{cat} train prompt {i}" for i in range(n_train)) + "\n")
    return root


def test_val_and_train_counts(tmp_path):
    folder = make_folder(tmp_path)
    load = load_t2i_compbench
    val, train = load(split="val", path=folder), load(split="train", path=folder)
    assert len(val) == 3 * 8 and len(train) == 5 * 8
    assert {p.split for p in val} == {"eval"} and {p.split for p in train} == {"train"}
    assert [p.text for p in load(split="eval", path=folder)] == [p.text for p in val]
    assert val[0].id == "t2i-compbench/3d_spatial_val/0001" and val[0].subtask == "3d_spatial"


def test_strip_skip_blank_keep_line_numbers(tmp_path):
    (tmp_path / "color_val.txt").write_text("  a red apple \n\n\t\na blue car\r\n   \na green bench")
    prompts = load_t2i_compbench(split="val", subtasks=["color"], path=tmp_path)
    assert [(p.text, p.metadata["line"]) for p in prompts] == [
        ("a red apple", 1),
        ("a blue car", 4),
        ("a green bench", 6),
    ]
    assert prompts[1].id == "t2i-compbench/color_val/0004"
    assert prompts[1].metadata["file"] == "color_val.txt"


def test_missing_file_unknown_category_and_split(tmp_path):
    (tmp_path / "color_val.txt").write_text("a red apple")
    load = load_t2i_compbench
    with pytest.raises(DataError, match=r"missing 3d_spatial_val\.txt"):
        load(split="val", path=tmp_path)
    with pytest.raises(UnigapError, match="unknown subtask.*valid: 3d_spatial, color"):
        load(split="val", subtasks=["colour"], path=tmp_path)
    with pytest.raises(UnigapError, match="unknown split 'dev'"):
        load(split="dev", path=tmp_path)
    with pytest.raises(DataError, match="not a folder"):
        load(split="val", path=tmp_path / "color_val.txt")
