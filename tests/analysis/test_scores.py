"""Gen. aggregation (`unigap.analysis.scores`) on hand-made score rows and on the official T2I-CompBench scores."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from tests.judges import _t2i_official as official
from unigap.analysis.scores import generation_scores, geneval_summary
from unigap.judges.scoring import score_scale


@dataclass
class R:
    judge: str
    prompt_id: str
    subtask: str
    band: str | None
    score: float | None
    verdict: int | None = None


ROWS = [
    R("t2i-compbench", "c1", "color", "easy", 0.5),
    R("t2i-compbench", "c1", "color", "easy", 0.7),
    R("t2i-compbench", "c2", "color", "easy", 0.3),
    R("t2i-compbench", "s1", "spatial", "medium", 0.0),
    R("t2i-compbench", "s2", "spatial", "medium", 0.2),
    R("t2i-compbench", "s2", "spatial", "medium", None),
    R("self", "c1", "color", "easy", None),
]


def test_generation_scores_mean_x100_and_unweighted_overall():
    g = generation_scores(ROWS, "t2i-compbench", n_boot=200)
    # colour: (0.5 + 0.7 + 0.3) / 3 = 0.5 -> 50; spatial: (0.0 + 0.2) / 2 = 0.1 -> 10 (the failed one left out)
    assert g["subtasks"]["color"]["value"] == pytest.approx(50.0)
    assert g["subtasks"]["spatial"]["value"] == pytest.approx(10.0)
    assert g["subtasks"]["color"]["n"] == 3 and g["subtasks"]["color"]["sum"] == pytest.approx(1.5)
    assert g["bands"]["easy"]["value"] == pytest.approx(50.0) and g["bands"]["medium"]["value"] == pytest.approx(10.0)
    assert g["overall"]["value"] == pytest.approx(30.0)  # (50 + 10) / 2, not the pooled 1.7 / 5 = 34
    assert g["missing"] == 1 and g["scale"] == 100.0
    lo, hi = g["subtasks"]["color"]["ci"]
    assert 30.0 <= lo <= 50.0 <= hi <= 60.0  # prompt bootstrap: c1 mean 0.6 x2 candidates, c2 0.3


def test_sciscore_is_not_rescaled():
    rows = [R("sciscore", "p", "physics", "hard", 24.0), R("sciscore", "q", "physics", "hard", 26.0)]
    assert score_scale("sciscore") == 1.0
    assert generation_scores(rows, "sciscore", n_boot=50)["subtasks"]["physics"]["value"] == pytest.approx(25.0)


def test_benchmark_level_is_the_unweighted_mean_of_its_subtasks():
    rows = ROWS + [R("t2i-compbench", "x1", "texture", "medium", 0.9)]
    g = generation_scores(
        rows, "t2i-compbench", n_boot=50, benchmarks={"color": "t2i-compbench", "spatial": "t2i-compbench"}
    )
    # texture is in no benchmark group: t2i-compbench = (50 + 10) / 2, overall = (50 + 10 + 90) / 3
    assert g["benchmarks"]["t2i-compbench"]["value"] == pytest.approx(30.0)
    assert g["overall"]["value"] == pytest.approx(50.0)
    lo, hi = g["benchmarks"]["t2i-compbench"]["ci"]
    assert lo <= 30.0 <= hi


def test_geneval_summary_from_rows():
    rows = [
        R("geneval", "a", "counting", None, 1.0, 1),
        R("geneval", "a", "counting", None, 0.0, 0),
        R("geneval", "b", "position", None, 0.0, 0),
        R("geneval", "b", "position", None, None, None),
    ]
    s = geneval_summary(rows)
    assert s["tasks"]["counting"]["accuracy"] == 0.5 and s["tasks"]["position"]["total"] == 1
    assert s["overall"] == pytest.approx(0.25)


@pytest.mark.parametrize(
    "key",
    [
        "color/blip",
        "shape/blip",
        "texture/blip",
        "non_spatial/clip",
        "spatial/unidet",
        "3d_spatial/unidet",
        "numeracy/unidet",
        "complex/3_in_1",
    ],
)
def test_t2i_compbench_gen_is_the_official_average_x100(key):
    """Gen. of a category = the official script's printed average (over its per-image scores) x 100
    (tests/fixtures/official/t2i_compbench/scores.json; complex: 10 images per prompt, as 3_in_1.py)."""
    fx = official.fixture("scores")[key]
    printed = float(re.findall(r"-?\d+\.\d+(?:e-?\d+)?", fx["printed"])[-1])
    category = key.split("/")[0]
    n = official.fixture("manifest")["images_per_prompt"].get(category, 1)
    rows = [
        R("t2i-compbench", f"{category}/{i}", category, "medium", s)
        for i, s in enumerate(fx["lines"])
        for _ in range(n)
    ]
    g = generation_scores(rows, "t2i-compbench", n_boot=10)
    assert g["subtasks"][category]["value"] == pytest.approx(100 * printed, rel=1e-12, abs=1e-12)
    assert g["subtasks"][category]["n"] == len(fx["lines"]) * n
