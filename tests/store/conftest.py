"""Fixtures for the run-store tests: an open store, and one with prompts and candidates."""

from __future__ import annotations

import pytest
from store_helpers import make_prompts, make_rows

from unigap.store import RunStore


@pytest.fixture
def store(tmp_path):
    with RunStore.open(tmp_path / "run") as s:
        yield s


@pytest.fixture
def filled(store):
    """A store with 3 prompts and 2 "base" candidates each."""
    store.add_prompts(make_prompts(3))
    store.add_candidates("base", make_rows(["p0", "p1", "p2"], 2))
    return store
