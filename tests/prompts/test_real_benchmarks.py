"""Loaders on the real benchmark files of the shared folder (never copied into the repo)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from unigap.prompts.contamination import find_overlaps
from unigap.prompts.geneval import load_geneval
from unigap.prompts.t2i_compbench import CATEGORIES, load_t2i_compbench


def shared_benchmarks() -> Path:
    """UNIGAP_SHARED (the shared folder, or its benchmarks/) or the sibling `<repo>/../shared/benchmarks`."""
    env = os.environ.get("UNIGAP_SHARED")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / ".." / "shared"
    return root if (root / "geneval").is_dir() else root / "benchmarks"


BENCH = shared_benchmarks()
pytestmark = pytest.mark.skipif(
    not (BENCH / "geneval" / "evaluation_metadata.jsonl").is_file(),
    reason=f"shared benchmark files not found at {BENCH} (set UNIGAP_SHARED)",
)


def test_geneval_real_counts():
    prompts = load_geneval(path=BENCH / "geneval" / "evaluation_metadata.jsonl")
    assert len(prompts) == 553
    assert Counter(p.subtask for p in prompts) == {
        "single_object": 80,
        "two_object": 99,
        "counting": 80,
        "colors": 94,
        "position": 100,
        "color_attr": 100,
    }
    assert prompts[-1].id == "geneval/00552"


def test_t2i_compbench_real_counts():
    load = load_t2i_compbench  # (split, subtasks, path)
    for split, n in (("val", 300), ("train", 700)):
        counts = Counter(p.subtask for p in load(split=split, path=BENCH / "t2i-compbench"))
        assert counts == {c: n for c in CATEGORIES}, split


def test_t2i_compbench_real_spatial_overlap():
    load = load_t2i_compbench  # (split, subtasks, path)
    train = load(split="train", subtasks=["spatial"], path=BENCH / "t2i-compbench")
    val = load(split="val", subtasks=["spatial"], path=BENCH / "t2i-compbench")
    ov = find_overlaps(train, val)
    assert len(ov.exact) == 2 and not ov.normalised
    assert {o.train.text for o in ov.exact} == {"a boy on the top of a wallet", "a giraffe on the right of a wallet"}
