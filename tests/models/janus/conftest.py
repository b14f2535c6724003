"""Tiny random Janus (16 image tokens, 16x16 px) built offline, saved and reloaded like a hub checkpoint."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from unigap.models.base import ModelConfig  # noqa: E402
from unigap.models.janus.synthetic import build_synthetic  # noqa: E402

PROMPTS = [
    "a red cat",
    "two big blue squares on the left of a small yellow triangle above a black dog with a white circle",
    "a green circle",
]


@pytest.fixture
def prompts() -> list[str]:
    return list(PROMPTS)


@pytest.fixture(scope="session")
def janus_dir(tmp_path_factory):
    return build_synthetic("tiny", seed=0, init_std=0.3).save(tmp_path_factory.mktemp("janus_tiny"))


@pytest.fixture
def backend(janus_dir):
    """A fresh backend per test (LoRA and OOM tests mutate it); loading takes ~0.1 s."""
    from unigap.models.janus.backend import load_janus

    return load_janus(ModelConfig(name="janus", path=str(janus_dir), batch_size=8))
