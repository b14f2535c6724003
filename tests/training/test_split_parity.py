"""SFT and DPO keep their behaviour through the trainer split (issue 24): the curated set and the loss
trajectories of `unigap run`'s stages equal those the pre-split trainer recorded (split_parity.py)."""

import json
import math
from pathlib import Path

import pytest

from tests.training.split_parity import record_default, record_small

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "split_parity"


def same(now: dict, then: dict, where: str = "") -> None:
    """Equal, floats to 1e-9 relative (the runs are deterministic; float printing is exact)."""
    assert type(now) is type(then) or {type(now), type(then)} <= {int, float}, where
    if isinstance(then, dict):
        assert set(now) == set(then), f"{where}: keys {set(now) ^ set(then)}"
        for k in then:
            same(now[k], then[k], f"{where}.{k}")
    elif isinstance(then, list):
        assert len(now) == len(then), f"{where}: length {len(now)} != {len(then)}"
        for i, (a, b) in enumerate(zip(now, then)):
            same(a, b, f"{where}[{i}]")
    elif isinstance(then, float):
        assert math.isclose(now, then, rel_tol=1e-9, abs_tol=1e-12), f"{where}: {now} != {then}"
    else:
        assert now == then, f"{where}: {now} != {then}"


def test_small_run_curates_and_trains_as_before_the_split(tmp_path):
    now = record_small(tmp_path)
    then = json.loads((FIXTURES / "small.json").read_text())
    same(now, then)
    assert then["small_sft"]["replays"] and then["small_dpo"]["losses"][1] < then["small_dpo"]["losses"][0]


@pytest.mark.slow
@pytest.mark.timeout(2400)  # ~3 min alone on 2 cores; 10x that on a loaded machine
def test_default_run_curates_and_trains_as_before_the_split(tmp_path):
    """configs/run_tiny.yaml, the shipped model: 1292 SFT images, C-SFT 8 epochs with a replay, and DPO."""
    now = record_default(tmp_path)
    same(now, json.loads((FIXTURES / "default.json").read_text()))
