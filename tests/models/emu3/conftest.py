"""Tiny random Emu3 (4 x 4 image tokens, 32 x 32 px) built offline, saved and reloaded like a hub checkpoint."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from unigap.models.base import ModelConfig  # noqa: E402
from unigap.models.emu3.synthetic import build_synthetic  # noqa: E402

PROMPTS = [
    "a red cat",
    "two big blue squares on the left of a small yellow triangle above a black dog",
    "a green circle",
]


@pytest.fixture
def prompts() -> list[str]:
    return list(PROMPTS)


@pytest.fixture(scope="session")
def emu3_dir(tmp_path_factory):
    return build_synthetic("tiny", seed=0).save(tmp_path_factory.mktemp("emu3_tiny"))


@pytest.fixture(scope="session")
def chat_dir(tmp_path_factory):
    return build_synthetic("tiny", seed=1, role="chat").save(tmp_path_factory.mktemp("emu3_chat"))


@pytest.fixture
def backend(emu3_dir):
    from unigap.models.emu3.backend import load_emu3

    return load_emu3(ModelConfig(name="emu3", path=str(emu3_dir), batch_size=8))
