"""The paper's per-benchmark tables from the one metric table (`analysis.table.benchmark_blocks`), on
hand-made audit results; and per-benchmark aggregation in `audit_metrics` / `win_rate`."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from unigap.analysis.metrics import audit_metrics
from unigap.analysis.table import PAPER_CELL, benchmark_blocks, spec_of, und_truth
from unigap.analysis.winrate import win_rate


def e(v):
    return {"value": v, "ci": None}


def level(subtasks: dict, benchmarks: dict) -> dict:
    return {"subtasks": {s: e(v) for s, v in subtasks.items()}, "benchmarks": {b: e(v) for b, v in benchmarks.items()}}


BENCHMARK_OF = {"single_object": "geneval", "two_object": "geneval", "texture": "t2i-compbench"}


def result(gen_geneval, gen_t2i, non) -> dict:
    return {
        "benchmark_of": BENCHMARK_OF,
        "metrics": {
            "non_unification": level(
                non, {"geneval": (non["single_object"] + non["two_object"]) / 2, "t2i-compbench": non["texture"]}
            ),
            "gen/geneval": level(gen_geneval, {"geneval": sum(gen_geneval.values()) / 2}),
            "gen/t2i-compbench": level(gen_t2i, {"t2i-compbench": gen_t2i["texture"]}),
        },
    }


BEFORE = result(
    {"single_object": 98.75, "two_object": 85.86},
    {"texture": 38.63},
    {"single_object": 0.0375, "two_object": 0.0404, "texture": 0.4333},
)
AFTER = result(
    {"single_object": 96.25, "two_object": 87.88},
    {"texture": 53.93},
    {"single_object": 0.025, "two_object": 0.0707, "texture": 0.2967},
)


def test_the_paper_cell_is_gen_und_non_from_the_metric_table():
    assert [spec_of(k).abbr for k in PAPER_CELL] == ["Gen.", "Und.", "Non."]
    assert [spec_of(k).direction for k in PAPER_CELL] == ["higher", "higher", "lower"]


def test_blocks_before_after_with_the_win_rate():
    wins = {
        "geneval": {"win_rate": level({"single_object": 1.0, "two_object": 0.0}, {"geneval": 0.5})},
        "t2i-compbench": {"win_rate": level({"texture": 0.6522}, {"t2i-compbench": 0.6522})},
    }
    gen, t2i = benchmark_blocks({"base": BEFORE, "improved": AFTER}, wins)
    assert gen.header == ["model", "", "single_object", "two_object", "Overall"]
    assert gen.rows == [
        ["base", "Gen. ↑", "98.75", "85.86", "92.31"],  # (98.75 + 85.86) / 2 = 92.305
        ["", "Und. ↑", "50.00", "50.00", "50.00"],  # the paper's convention before improvement
        ["", "Non. ↓", "3.75", "4.04", "3.90"],
        ["improved", "Gen. ↑", "96.25", "87.88", "92.06"],
        ["", "Und. ↑", "100.00", "0.00", "50.00"],
        ["", "Non. ↓", "2.50", "7.07", "4.79"],
    ]
    assert "GenEval" in gen.title and "against geneval" in gen.title
    assert t2i.header == ["model", "", "texture", "Overall"] and t2i.rows[4] == ["", "Und. ↑", "65.22", "65.22"]
    assert "x100" in t2i.title


def test_an_audit_alone_has_no_und_and_missing_values_print_a_dash():
    no_gen = {**BEFORE, "metrics": {k: v for k, v in BEFORE["metrics"].items() if k != "gen/t2i-compbench"}}
    gen, t2i = benchmark_blocks({"base": no_gen})
    assert gen.rows[1] == ["", "Und. ↑", "—", "—", "—"] and len(gen.rows) == 3
    assert t2i.rows[0] == ["base", "Gen. ↑", "—", "—"] and t2i.rows[2] == ["", "Non. ↓", "43.33", "43.33"]
    assert benchmark_blocks({"base": {"metrics": {}, "benchmark_of": {}}}) == []  # ShapeWorld: no benchmark


def test_und_truth_prefers_a_judge_other_than_the_scorers():
    wins = {
        "geneval": {"win_rate": level({"single_object": 1.0}, {})},
        "http:qwen": {"win_rate": level({"single_object": 0.0, "texture": 1.0}, {})},
        "oracle": {"win_rate": level({"a": 1.0}, {})},
        "missing": "not a result",
    }
    assert und_truth(wins, "geneval", ["single_object"]) == "http:qwen"  # the paper's Qwen2.5-VL-72B role
    assert und_truth(wins, "sciscore", ["physics"]) is None
    assert und_truth({"geneval": wins["geneval"]}, "geneval", ["single_object", "two_object"]) == "geneval"


@dataclass
class R:
    candidate_id: int
    judge: str
    verdict: int | None
    prompt_id: str
    subtask: str
    band: str | None = None
    status: str = "ok"
    score: float | None = None


def test_metrics_cover_each_scorers_own_subtasks_and_add_the_benchmark_level():
    rows = []
    for cid, (sub, scorer, s, v, score) in enumerate(
        [
            ("a", "geneval", 0, 1, 1.0),
            ("a", "geneval", 1, 0, 0.0),
            ("b", "geneval", 1, 1, 1.0),
            ("c", "sciscore", 0, 0, 20.0),
        ]
    ):
        rows += [R(cid, "self", s, f"p{cid}", sub), R(cid, scorer, v, f"p{cid}", sub, score=score)]
    m = audit_metrics(rows, n_boot=20, benchmarks={"a": "geneval", "b": "geneval", "c": "science-t2i"})
    met = m["metrics"]
    assert m["benchmark_of"] == {"a": "geneval", "b": "geneval", "c": "science-t2i"}
    assert set(met["generation_score/geneval"]["subtasks"]) == {"a", "b"}  # not c: geneval never judged it
    assert set(met["weak_generation/sciscore"]["subtasks"]) == {"c"} and set(m["confusion"]["sciscore"]) == {"c"}
    assert met["non_unification"]["benchmarks"]["geneval"]["value"] == pytest.approx((0.5 + 0.0) / 2)
    assert met["non_unification"]["benchmarks"]["science-t2i"]["value"] == 1.0
    assert met["gen/geneval"]["benchmarks"]["geneval"]["value"] == pytest.approx((50.0 + 100.0) / 2)
    assert met["gen/sciscore"]["benchmarks"] == {"science-t2i": {"value": 20.0, "ci": [20.0, 20.0]}}
    rows += [R(cid, "model:improved", 1 - r.verdict, r.prompt_id, r.subtask) for cid, r in enumerate(rows[::2])]
    w = win_rate(rows, label="geneval", n_boot=20, benchmarks=m["benchmark_of"])
    assert set(w["win_rate"]["subtasks"]) == {"a", "b"}  # c has no geneval label: no 50 % by default there
    # a: both disagree, improved agrees with geneval on both -> 1; b: improved 0 vs label 1 -> 0
    assert w["win_rate"]["benchmarks"] == {"geneval": {"value": 0.5, "ci": [0.5, 0.5]}}


def test_a_judge_name_with_a_slash_is_one_column():
    from unigap.analysis.table import columns

    metrics = {
        "non_unification": {},
        "generation_score/http:Qwen/Qwen2.5-VL-72B-Instruct": {},
        "self_accuracy/http:Qwen/Qwen2.5-VL-72B-Instruct": {},
    }
    cols = columns(metrics, shown_only=True)
    assert [(c.spec.key, c.judge) for c in cols] == [
        ("non_unification", None),
        ("generation_score/{judge}", "http:Qwen/Qwen2.5-VL-72B-Instruct"),
        ("self_accuracy/{judge}", "http:Qwen/Qwen2.5-VL-72B-Instruct"),
    ]
