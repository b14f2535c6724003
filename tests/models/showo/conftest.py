"""Tiny random Show-o (Phi 2 layers x 32, 16 image tokens, 64 codes, 16x16 px) written offline
by the synthetic writer and opened by the real loader."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from unigap.models.base import ModelConfig  # noqa: E402
from unigap.models.showo.backend import load_showo  # noqa: E402
from unigap.models.showo.options import ShowoOptions  # noqa: E402
from unigap.models.showo.synthetic import write_synthetic  # noqa: E402

PROMPTS = ["a red circle", "two big blue squares left of a small yellow triangle", "a green cat"]


@pytest.fixture(scope="session")
def showo_dir(tmp_path_factory) -> Path:
    return write_synthetic(tmp_path_factory.mktemp("showo") / "ckpt", "tiny", seed=0)


def load(path: Path, **options) -> object:
    return load_showo(ModelConfig(name="showo", path=str(path), batch_size=8), ShowoOptions(**options))


@pytest.fixture(scope="module")
def backend(showo_dir):
    return load(showo_dir, steps=6)


@pytest.fixture
def prompts() -> list[str]:
    return list(PROMPTS)
