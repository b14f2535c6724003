"""Shape bitmaps: boolean (s, s) masks for side s = 8 (small) or 12 (big).

Every bitmap touches all four sides of its s x s box, so an object's pixel bbox is exactly its
placement box (the parser reads size and position from the bbox).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from unigap.world.constants import SHAPES


def _grid(s: int) -> tuple[np.ndarray, np.ndarray, float]:
    y, x = np.mgrid[0:s, 0:s]
    return x, y, (s - 1) / 2


def _square(s: int) -> np.ndarray:
    return np.ones((s, s), dtype=bool)


def _circle(s: int) -> np.ndarray:
    x, y, c = _grid(s)
    return (x - c) ** 2 + (y - c) ** 2 <= (s / 2) ** 2


def _triangle(s: int) -> np.ndarray:
    # Row y spans |x - c| <= (y + 1) / 2: a 2-pixel apex, full-width base at both sizes.
    x, y, c = _grid(s)
    return np.abs(x - c) <= (y + 1) / 2


def _cross(s: int) -> np.ndarray:
    # Arms s/3 thick (2 px at 8, 4 px at 12). The brief's s/2 arms make the small cross a
    # subset of the small circle (IoU 0.92), so the two could not be told apart.
    x, y, c = _grid(s)
    return (np.abs(x - c) < s / 6) | (np.abs(y - c) < s / 6)


_MAKERS = {"square": _square, "circle": _circle, "triangle": _triangle, "cross": _cross}


@cache
def bitmap(shape: str, side: int) -> np.ndarray:
    """Read-only boolean mask of `shape` at `side` pixels."""
    mask = _MAKERS[shape](side)
    mask.setflags(write=False)
    return mask


@cache
def bitmap_stack(side: int) -> np.ndarray:
    """(4, side, side) bool: the bitmaps of SHAPES in order (for vectorised IoU)."""
    stack = np.stack([bitmap(s, side) for s in SHAPES])
    stack.setflags(write=False)
    return stack


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))
