"""`understand:` run-config section: base and improved evaluated, side by side."""

from __future__ import annotations

import pytest

from unigap.errors import ConfigError
from unigap.models.base import ModelConfig
from unigap.understand.stage import UnderstandConfig, check_understand, load_results, run_understand, side_by_side


def test_off_by_default_and_checked():
    check_understand(UnderstandConfig())  # no tasks: nothing to check, lmms-eval not needed
    with pytest.raises(ConfigError, match="understand.data"):
        check_understand(UnderstandConfig(tasks=["pope"], data={"gqa": "/x"}))
    with pytest.raises(ConfigError, match="one lmms-eval task name per entry"):
        check_understand(UnderstandConfig(tasks=["pope,gqa"]))


def test_base_and_improved_side_by_side(lmms, tmp_path, tiny_ckpt_dir, monkeypatch):
    cfg = UnderstandConfig(tasks=["shapeworld_plain"], limit=4, per_subtask=1)
    model_cfg = ModelConfig(name="tiny", path=str(tiny_ckpt_dir), batch_size=4)
    base = run_understand(cfg, model_cfg, None, tmp_path, "base")
    improved = run_understand(cfg, model_cfg, None, tmp_path, "improved", seed=0)
    assert set(load_results(tmp_path)) == {"base", "improved"}
    rows = side_by_side(tmp_path)
    assert [(r["task"], r["metric"]) for r in rows] == [("shapeworld_plain", "exact_match")]
    row = rows[0]
    assert row["base"] == base["scores"]["shapeworld_plain"]["exact_match"]
    assert row["improved"] == improved["scores"]["shapeworld_plain"]["exact_match"]
    assert row["delta"] == pytest.approx(row["improved"] - row["base"]) and row["base_failed"] == 0
    assert side_by_side(tmp_path / "nothing") == []
