"""The six-model audit configs parse as audit configs and their model options validate."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from unigap.audit.runner import AuditConfig
from unigap.models.base import MODELS

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
NAMES = ["janus_pro_7b", "showo", "emu3", "served"]


@pytest.mark.parametrize("name", NAMES)
def test_paper9_config_validates(name):
    path = CONFIGS / f"audit_paper9_{name}.yaml"
    text = path.read_text()
    assert text.startswith("# Purpose:") and "# Command:" in text
    cfg = AuditConfig.model_validate(yaml.safe_load(text))
    assert cfg.prompts.suite == "paper9" and cfg.n == 10
    MODELS.validate_options(cfg.model.name, cfg.model.options, f"{path.name}: model.options")
    if name == "emu3":
        assert cfg.model.options["understanding_path"] == "BAAI/Emu3-Chat-hf"
