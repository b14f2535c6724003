"""A third-party objective (the `# unigap_toy_objective.py` block of docs/grpo.md, verbatim) found through an
entry point, typed options validated, and trained by the shared loop."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tests.training.test_improve import cfg, make_data
from unigap.errors import ConfigError
from unigap.training.improve import improve
from unigap.training.objectives.base import OBJECTIVES

DOC = Path(__file__).resolve().parents[2] / "docs" / "grpo.md"
DIST = "unigap_toy_objective-0.1.dist-info"


@pytest.fixture
def plugin_site(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(# unigap_toy_objective\.py\n.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 1, "docs/grpo.md must hold exactly one `# unigap_toy_objective.py` block"
    site = tmp_path / "site"
    (site / DIST).mkdir(parents=True)
    (site / "unigap_toy_objective.py").write_text(blocks[0])
    (site / DIST / "METADATA").write_text("Metadata-Version: 2.1\nName: unigap-toy-objective\nVersion: 0.1\n")
    (site / DIST / "entry_points.txt").write_text("[unigap.objectives]\ntoy_sft = unigap_toy_objective:ToySFT\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(OBJECTIVES, "_entries", dict(OBJECTIVES._entries))
    monkeypatch.setattr(OBJECTIVES, "_plugins_loaded", False)
    return site


def test_a_plugin_objective_trains_with_its_typed_options(plugin_site, tmp_path, tiny_ckpt_dir):
    assert "toy_sft" in OBJECTIVES.names() and OBJECTIVES.entry("toy_sft").source == "unigap-toy-objective"
    data = make_data(tmp_path / "data", tiny_ckpt_dir)
    full = improve(cfg(tiny_ckpt_dir, epochs=1), data, tmp_path / "sft", log=lambda m: None)
    half = improve(
        cfg(tiny_ckpt_dir, epochs=1, method="toy_sft", options={"scale": 0.5}),
        data,
        tmp_path / "toy",
        log=lambda m: None,
    )
    assert np.isclose(half["epochs"][0]["loss"], 0.5 * full["epochs"][0]["loss"], rtol=1e-6)
    with pytest.raises(ConfigError, match=r"(?s)improve.options.nope: unknown option.*objective 'toy_sft': scale"):
        improve(cfg(tiny_ckpt_dir, method="toy_sft", options={"nope": 1}), data, tmp_path / "bad")
    with pytest.raises(ConfigError, match="unknown objective 'nope'; valid: dpo, grpo, sft, toy_sft"):
        improve(cfg(tiny_ckpt_dir, method="nope"), data, tmp_path / "bad")
