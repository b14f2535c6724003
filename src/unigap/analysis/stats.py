"""Ratio metrics over prompts with 95 % bootstrap confidence intervals.

A metric is a ratio of per-prompt counts (numerator, denominator). A subtask's value is
sum(num) / sum(den) over its prompts; a band or the overall value is the unweighted mean of its
subtasks' values (the paper's convention: Janus-Pro's overall Non. 26.22 is the plain mean of six
subtask values); so is the value of any other group of subtasks (`groups`, e.g. the benchmark each
subtask belongs to: the paper's per-benchmark "Overall" columns). CIs resample prompts with
replacement within every subtask, recompute the subtask ratios and their means, and take the
2.5/97.5 percentiles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Counts:
    """Per-prompt counts of one subtask: num (P,), den (P,)."""

    num: np.ndarray
    den: np.ndarray


def unweighted_mean(values: list[float]) -> float:
    vals = [v for v in values if v == v]  # drop NaN (no data)
    return float(np.mean(vals)) if vals else float("nan")


def ratio(num: np.ndarray, den: np.ndarray, empty: float = np.nan) -> np.ndarray:
    """num / den, `empty` where den == 0 (NaN = no data; the win rate uses 0.5 by convention)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1), empty)


def bootstrap_ratios(c: Counts, n_boot: int, rng: np.random.Generator, empty: float = np.nan) -> np.ndarray:
    """(n_boot,) ratios of prompt-resampled counts."""
    p = len(c.num)
    if p == 0:
        return np.full(n_boot, np.nan)
    idx = rng.integers(0, p, size=(n_boot, p))
    return ratio(c.num[idx].sum(1), c.den[idx].sum(1), empty)


def ci(samples: np.ndarray) -> list[float] | None:
    s = samples[~np.isnan(samples)]
    if len(s) == 0:
        return None
    return [float(np.percentile(s, 2.5)), float(np.percentile(s, 97.5))]


def entry(value: float, samples: np.ndarray, num: float | None = None, den: float | None = None) -> dict:
    out: dict = {"value": None if value != value else float(value), "ci": ci(samples)}
    if num is not None:
        out.update({"num": int(num), "den": int(den)})
    return out


def summarise_ratio(
    per_subtask: dict[str, Counts],
    bands: dict[str, str],
    n_boot: int = 1000,
    seed: int = 0,
    empty: float = np.nan,
    groups: dict[str, dict[str, str]] | None = None,
) -> dict:
    """{"subtasks": {s: entry}, "bands": {b: entry}, "overall": entry} for one ratio metric, plus
    {name: {g: entry}} for each extra grouping `groups[name]` = {subtask: group} (e.g. "benchmarks")."""
    rng = np.random.default_rng(seed)
    values = {s: float(ratio(c.num.sum(), c.den.sum(), empty)) for s, c in per_subtask.items()}
    boots = {s: bootstrap_ratios(c, n_boot, rng, empty) for s, c in per_subtask.items()}
    out = {"subtasks": {s: entry(values[s], boots[s], c.num.sum(), c.den.sum()) for s, c in per_subtask.items()}}
    out["bands"] = group_means(values, boots, bands)
    for name, group_of in (groups or {}).items():
        out[name] = group_means(values, boots, group_of)
    out["overall"] = entry(unweighted_mean(list(values.values())), _mean_boot(list(boots.values())))
    return out


def group_means(values: dict[str, float], boots: dict[str, np.ndarray], group_of: dict[str, str]) -> dict:
    """{group: entry}: the unweighted mean of its subtasks' values (and of their bootstrap samples)."""
    out = {}
    for group in dict.fromkeys(group_of[s] for s in values if group_of.get(s)):
        members = [s for s in values if group_of.get(s) == group]
        out[group] = entry(unweighted_mean([values[s] for s in members]), _mean_boot([boots[s] for s in members]))
    return out


def _mean_boot(samples: list[np.ndarray]) -> np.ndarray:
    if not samples:
        return np.array([np.nan])
    stacked = np.stack(samples)  # (S, n_boot)
    count = (~np.isnan(stacked)).sum(0)
    total = np.nansum(stacked, axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)
