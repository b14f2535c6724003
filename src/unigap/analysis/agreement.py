"""Agreement between judges: Cohen's kappa, confusion matrices and a bootstrap CI per pair.

Verdicts are binary (1 = the image matches the prompt, 0 = it does not). A judge may have no
verdict for a candidate it judged (status "unparsed" or "failed", stored as verdict None); such
candidates are left out of that pair and counted in `PairStats.excluded`.

Degenerate kappa, by definition here:
- no items: NaN (nothing to measure);
- both judges constant and equal (e.g. both always 1): 1.0. Chance agreement is then 1 and
  kappa is 0/0; we report the observed (perfect) agreement rather than NaN, so that a pair that
  never disagrees is never reported below a pair that sometimes does. sklearn returns NaN here.
- constant but different judges (one always 1, the other always 0), or one constant and the
  other not, are not degenerate: kappa = 0 (no agreement beyond chance).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from unigap.errors import UnigapError

Verdicts = Mapping[str, Mapping[int, "int | None"]]


@dataclass(frozen=True)
class PairStats:
    """Agreement of judges `a` and `b` over the candidates both gave a verdict for.

    confusion[i][j]: candidates with verdict i from `a` and j from `b`.
    excluded: candidates both judged where at least one of them has no verdict.
    ci: 95 % percentile bootstrap CI of kappa over items, None when n == 0.
    """

    a: str
    b: str
    n: int
    kappa: float
    ci: tuple[float, float] | None
    agreement: float
    confusion: list[list[int]] = field(default_factory=lambda: [[0, 0], [0, 0]])
    excluded: int = 0

    def as_dict(self) -> dict:
        nan = self.kappa != self.kappa
        return {
            "a": self.a,
            "b": self.b,
            "n": self.n,
            "kappa": None if nan else self.kappa,
            "ci": list(self.ci) if self.ci else None,
            "agreement": self.agreement,
            "confusion": self.confusion,
            "excluded": self.excluded,
        }


def _binary(x: Sequence[int] | np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1 or not np.isin(arr, (0, 1)).all():
        raise ValueError(f"{name}: expected a 1-D sequence of 0/1 verdicts")
    return arr.astype(np.int64)


def _pair(a: Sequence[int], b: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    x, y = _binary(a, "a"), _binary(b, "b")
    if len(x) != len(y):
        raise ValueError(f"a and b differ in length ({len(x)} vs {len(y)})")
    return x, y


def confusion(a: Sequence[int], b: Sequence[int]) -> np.ndarray:
    """2x2 int counts: rows = a's verdict (0, 1), columns = b's verdict (0, 1)."""
    x, y = _pair(a, b)
    return np.bincount(2 * x + y, minlength=4).reshape(2, 2)


def _kappa_from_rates(po: np.ndarray, pa1: np.ndarray, pb1: np.ndarray) -> np.ndarray:
    """Vectorised kappa from observed agreement and each judge's rate of 1s."""
    pe = pa1 * pb1 + (1 - pa1) * (1 - pb1)
    # Chance agreement is 1 exactly when both judges are constant and equal (rates of 1s are
    # means of 0/1 arrays, so the test is exact): defined as 1.0, see the module docstring.
    degenerate = (pa1 == pb1) & ((pa1 == 0) | (pa1 == 1))
    return np.where(degenerate, 1.0, (po - pe) / np.where(degenerate, 1.0, 1 - pe))


def cohen_kappa(a: Sequence[int], b: Sequence[int]) -> float:
    """Cohen's kappa of two binary raters; NaN for no items, 1.0 for equal constant raters."""
    x, y = _pair(a, b)
    if len(x) == 0:
        return float("nan")
    return float(_kappa_from_rates(np.mean(x == y), x.mean(), y.mean()))


def bootstrap_kappa(
    a: Sequence[int], b: Sequence[int], n_boot: int = 1000, seed: int = 0, chunk: int = 200
) -> np.ndarray:
    """(n_boot,) kappas of item-resampled (with replacement) pairs; empty input -> empty array."""
    x, y = _pair(a, b)
    if len(x) == 0 or n_boot <= 0:
        return np.empty(0)
    rng = np.random.default_rng(seed)
    out = []
    for start in range(0, n_boot, chunk):  # chunks bound memory at chunk * n indices
        idx = rng.integers(0, len(x), size=(min(chunk, n_boot - start), len(x)))
        xs, ys = x[idx], y[idx]
        out.append(_kappa_from_rates((xs == ys).mean(1), xs.mean(1), ys.mean(1)))
    return np.concatenate(out)


def kappa_ci(a: Sequence[int], b: Sequence[int], n_boot: int = 1000, seed: int = 0) -> tuple[float, float] | None:
    """95 % percentile bootstrap CI of kappa over items; None without items."""
    samples = bootstrap_kappa(a, b, n_boot, seed)
    samples = samples[~np.isnan(samples)]
    if len(samples) == 0:
        return None
    return float(np.percentile(samples, 2.5)), float(np.percentile(samples, 97.5))


def paired_verdicts(va: Mapping[int, int | None], vb: Mapping[int, int | None]) -> tuple[list[int], list[int], int]:
    """Verdicts of the candidates both judged with a verdict (id order) and the excluded count."""
    both = sorted(set(va) & set(vb))
    kept = [c for c in both if va[c] is not None and vb[c] is not None]
    return [int(va[c]) for c in kept], [int(vb[c]) for c in kept], len(both) - len(kept)


def pair_stats(
    a: str, b: str, va: Mapping[int, int | None], vb: Mapping[int, int | None], n_boot: int = 1000, seed: int = 0
) -> PairStats:
    xa, xb, excluded = paired_verdicts(va, vb)
    n = len(xa)
    agreement = float(np.mean(np.asarray(xa) == np.asarray(xb))) if n else float("nan")
    return PairStats(
        a, b, n, cohen_kappa(xa, xb), kappa_ci(xa, xb, n_boot, seed), agreement, confusion(xa, xb).tolist(), excluded
    )


def agreement_table(verdicts: Verdicts, n_boot: int = 1000, seed: int = 0) -> list[PairStats]:
    """PairStats for every pair of judges (in the mapping's order), each with the same seed."""
    return [
        pair_stats(a, b, verdicts[a], verdicts[b], n_boot, seed) for a, b in itertools.combinations(list(verdicts), 2)
    ]


class _Row(Protocol):
    candidate_id: int
    judge: str
    verdict: int | None


def verdicts_from_rows(rows: Iterable[_Row]) -> dict[str, dict[int, int | None]]:
    """{judge: {candidate_id: verdict or None}} from stored judgment rows (judges in first-seen order)."""
    out: dict[str, dict[int, int | None]] = {}
    for r in rows:
        out.setdefault(r.judge, {})[int(r.candidate_id)] = None if r.verdict is None else int(r.verdict)
    return out


class _StatusRow(_Row, Protocol):
    status: str


def status_counts(rows: Iterable[_StatusRow]) -> dict[str, dict[str, int]]:
    """{judge: {"ok": n, "unparsed": n, "failed": n}}: what each judge's verdicts amount to."""
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        counts = out.setdefault(r.judge, {"ok": 0, "unparsed": 0, "failed": 0})
        counts[r.status] = counts.get(r.status, 0) + 1
    return out


def run_agreement(
    run_dir: str, source: str | None = None, judges: Sequence[str] | None = None, n_boot: int = 1000, seed: int = 0
) -> dict:
    """Read a run's stored verdicts and compare every pair of judges (the one function with IO here).

    Returns {"pairs": [PairStats...], "status": {judge: counts}, "judges": [...]}. Judges are in
    the store's (sorted) order, or the order given.
    """
    from unigap.store import RunStore  # lazily: the pure functions above need no store

    with RunStore.open(run_dir, create=False) as store:
        names = list(judges) if judges else store.judges()
        unknown = sorted(set(names) - set(store.judges()))
        if unknown:
            raise UnigapError(
                f"{run_dir}: no stored verdicts by {', '.join(unknown)}; judges: {', '.join(store.judges())}"
            )
        rows = [r for name in names for r in store.judgments(judge=name, source=source)]
    if len(names) < 2:
        raise UnigapError(f"{run_dir}: agreement needs two judges with stored verdicts; found {names or 'none'}")
    by_judge = verdicts_from_rows(rows)
    verdicts = {name: by_judge.get(name, {}) for name in names}
    return {"judges": names, "pairs": agreement_table(verdicts, n_boot, seed), "status": status_counts(rows)}
