"""Small helpers shared by several layers (token batching, file hashing).

Nothing heavy at import time: torch is imported inside `left_pad`, so modules that only hash
files (the store) do not pull it in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def left_pad(rows: Sequence[Sequence[int]], pad: int, round_to: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Token rows -> (ids (B, T) int64, mask (B, T) bool), left-padded so every row ends at T.

    T is the longest row rounded up to a multiple of `round_to` (round_to = L with every row at
    most L long gives exactly L). mask is True on real tokens, False on padding.
    """
    import torch

    if not rows:
        raise ValueError("left_pad: no rows")
    if round_to < 1:
        raise ValueError(f"left_pad: round_to must be >= 1, got {round_to}")
    width = -(-max(len(r) for r in rows) // round_to) * round_to
    ids = torch.full((len(rows), width), pad, dtype=torch.long)  # (B, T)
    mask = torch.zeros((len(rows), width), dtype=torch.bool)  # (B, T)
    for i, row in enumerate(rows):
        if len(row):
            ids[i, width - len(row) :] = torch.as_tensor(list(row), dtype=torch.long)
            mask[i, width - len(row) :] = True
    return ids, mask


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
