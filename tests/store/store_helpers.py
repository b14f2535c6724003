"""Helpers shared by the run-store tests (imported by conftest and the test modules)."""

from __future__ import annotations

import numpy as np

from unigap.records import Prompt
from unigap.store.rows import CandidateIn


def make_prompts(n: int = 3, split: str = "train") -> list[Prompt]:
    subtasks = ["color", "count", "position"]
    return [
        Prompt(
            id=f"p{i}",
            text=f"prompt {i}",
            subtask=subtasks[i % 3],
            split=split,
            suite="shapeworld",
            band=["easy", None, "hard"][i % 3],
            metadata={"i": i},
            spec={"objects": [{"shape": "circle", "n": i}]} if i % 2 == 0 else None,
        )
        for i in range(n)
    ]


def make_image(seed: int, size: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(size, size, 3), dtype=np.uint8)


def make_rows(prompt_ids: list[str], n: int, seed0: int = 0, n_tokens: int = 8) -> list[CandidateIn]:
    rows = []
    for k, (pid, idx) in enumerate((pid, i) for pid in prompt_ids for i in range(n)):
        tokens = np.arange(n_tokens, dtype=np.int64) + 1000 * (seed0 + k)
        rows.append(CandidateIn(pid, idx, 2**62 + seed0 + k, tokens, make_image(seed0 + k)))
    return rows
