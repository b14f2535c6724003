"""Wall-clock timing and peak memory for the bench scripts: the device is synchronised around each
timed call, so a GPU measurement includes the kernels it launched (on the CPU these are plain timers)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def reset_peak() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gb() -> float | None:
    return round(torch.cuda.max_memory_allocated() / 1e9, 2) if torch.cuda.is_available() else None


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, fn's result), the device synchronised before and after."""
    sync()
    t0 = time.perf_counter()
    out = fn()
    sync()
    return time.perf_counter() - t0, out
