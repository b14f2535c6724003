"""`unigap agree RUN_DIR` through the real app, on a run store written with the store's API."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from unigap.analysis.agreement import cohen_kappa, run_agreement
from unigap.cli import get_app
from unigap.errors import UnigapError
from unigap.records import Judgment, Prompt
from unigap.store import CandidateIn, RunStore

runner = CliRunner()

ORACLE = [1, 0, 1, 0, 1, 1, 0, 0, 1, 1]
QWEN = [1, 0, 1, 1, 1, 1, 0, 0, 0, None]  # last: unparsed


def make_run(path, judges: dict[str, list]) -> list[int]:
    with RunStore.open(path) as store:
        store.add_prompts([Prompt(f"p{i}", f"prompt {i}", "color", "eval", "test", band="easy") for i in range(5)])
        rng = np.random.default_rng(0)
        rows = [
            CandidateIn(f"p{i // 2}", i % 2, i, np.arange(4), rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
            for i in range(10)
        ]
        ids = store.add_candidates("base", rows)
        for name, verdicts in judges.items():
            store.add_judgments(
                name,
                [(cid, Judgment(v, None, "x", "ok" if v is not None else "unparsed")) for cid, v in zip(ids, verdicts)],
            )
    return ids


def test_agree_prints_table_and_writes_json(tmp_path):
    make_run(tmp_path / "run", {"oracle": ORACLE, "qwen2.5-vl": QWEN})
    out_json = tmp_path / "agree.json"
    result = runner.invoke(
        get_app(), ["agree", str(tmp_path / "run"), "--n-boot", "200", "--json", str(out_json)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    kappa = cohen_kappa(ORACLE[:9], QWEN[:9])
    lines = result.output.splitlines()
    i = next(i for i, line in enumerate(lines) if "│ oracle" in line)
    first, second = ([c.strip() for c in line.split("│")[1:-1]] for line in lines[i : i + 2])
    assert first[:3] == ["oracle", "9", "77.8"] and first[3].startswith(f"{kappa:.3f} [")
    assert second[0] == "vs qwen2.5-vl"
    assert (first[4], second[4], first[5]) == ("3 1", "1 4", "1")  # confusion (A's verdict x B's), one excluded
    assert "qwen2.5-vl: 10 verdicts stored, 9 ok, 1 unparsed, 0 failed" in result.output
    saved = json.loads(out_json.read_text())
    (pair,) = saved["pairs"]
    assert pair["kappa"] == pytest.approx(kappa) and pair["confusion"] == [[3, 1], [1, 4]] and pair["excluded"] == 1


def test_agree_needs_two_judges_and_a_store(tmp_path):
    make_run(tmp_path / "run", {"oracle": ORACLE})
    with pytest.raises(UnigapError, match="two judges"):
        run_agreement(str(tmp_path / "run"))
    with pytest.raises(UnigapError, match="no stored verdicts by nobody"):
        run_agreement(str(tmp_path / "run"), judges=["oracle", "nobody"])
    with pytest.raises(UnigapError, match="no run store"):
        run_agreement(str(tmp_path / "missing"))
    result = runner.invoke(get_app(), ["agree", str(tmp_path / "run")])
    assert result.exit_code != 0


def test_agree_selects_judges_and_source(tmp_path):
    make_run(tmp_path / "run", {"oracle": ORACLE, "qwen2.5-vl": QWEN, "http:m": ORACLE})
    res = run_agreement(str(tmp_path / "run"), judges=["oracle", "http:m"], n_boot=50)
    (pair,) = res["pairs"]
    assert (pair.a, pair.b, pair.n, pair.kappa) == ("oracle", "http:m", 10, 1.0)
    assert len(run_agreement(str(tmp_path / "run"), n_boot=50)["pairs"]) == 3
    empty = run_agreement(str(tmp_path / "run"), source="improved", n_boot=50)
    assert all(p.n == 0 for p in empty["pairs"])
