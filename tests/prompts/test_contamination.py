"""Train/eval overlap detection and the suite-spec parser."""

from __future__ import annotations

import logging

import pytest

from unigap.errors import UnigapError
from unigap.prompts.contamination import drop_overlaps, find_overlaps, normalise
from unigap.prompts.spec import SuiteSpec, parse_spec
from unigap.records import Prompt


def P(i, text, split):
    return Prompt(id=f"{split}/{i}", text=text, subtask="s", split=split, suite="custom")


TRAIN = [
    P(0, "a dog on a wallet", "train"),
    P(1, "A red  car.", "train"),
    P(2, "a cat", "train"),
    P(3, "a blue-bird", "train"),
]
EVAL = [
    P(0, "a red car", "eval"),
    P(1, "a dog on a wallet", "eval"),
    P(2, "a fish", "eval"),
    P(3, "a blue bird", "eval"),
]


def test_normalise():
    assert normalise("  A Red,   CAR! ") == "a red car"
    assert normalise("ﬁsh") == "fish"


def test_exact_and_normalised_pairs():
    ov = find_overlaps(TRAIN, EVAL)
    assert [(o.kind, o.train.id, o.eval.id) for o in ov.pairs] == [
        ("exact", "train/0", "eval/1"),
        ("normalised", "train/1", "eval/0"),
        ("normalised", "train/3", "eval/3"),
    ]
    assert len(ov.exact) == 1 and len(ov.normalised) == 2 and (ov.n_train, ov.n_eval) == (4, 4)
    assert ov.eval_ids == {"eval/0", "eval/1", "eval/3"}
    assert len(find_overlaps(TRAIN, [P(9, "nothing alike", "eval")])) == 0


def test_drop_overlaps(caplog):
    kept, dropped = drop_overlaps(TRAIN, EVAL)
    assert [p.id for p in kept] == ["train/2"] and [p.id for p in dropped] == ["train/0", "train/1", "train/3"]
    with caplog.at_level(logging.WARNING):
        kept, dropped = drop_overlaps(TRAIN, EVAL, allow=True)
    assert kept == TRAIN and dropped == [] and "3 training prompt(s) overlap" in caplog.text


def test_parse_spec(tmp_path):
    assert parse_spec("t2i-compbench:/data/t2i:train") == SuiteSpec("t2i-compbench", "train", {"path": "/data/t2i"})
    assert parse_spec("geneval:/a:b/meta.jsonl") == SuiteSpec("geneval", "eval", {"path": "/a:b/meta.jsonl"})
    assert parse_spec("paper9:geneval=/g.jsonl, t2i_compbench=/t:eval", "train") == SuiteSpec(
        "paper9", "eval", {"geneval": "/g.jsonl", "t2i_compbench": "/t"}
    )
    f = tmp_path / "p.csv"
    f.write_text("prompt,subtask\na,b\n")
    assert parse_spec(str(f), "train") == SuiteSpec("custom", "train", {"path": str(f)})
    with pytest.raises(UnigapError, match="neither an existing file nor a suite spec"):
        parse_spec(str(tmp_path / "missing.csv"))
    with pytest.raises(UnigapError, match="key=value"):
        parse_spec("paper9:geneval=/g,=x")
