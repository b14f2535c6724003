"""How good is the self-judge as a data selector? Pure functions over stored judgment rows.

Self-improvement trains on the images its own judge accepts, so it works only as well as that
judge (paper: "only as well as the internal critic"). Against an external judge as the truth
("accept" = positive class), per band and overall, with 95 % bootstrap CIs over prompts:

  acceptance_precision  P(truth 1 | judge accepts)   the share of curated (accepted) images that are right
  rejection_precision   P(truth 0 | judge rejects)   = the audit's weak generation
  recall                P(judge accepts | truth 1)
  auroc                 of the judge's P(match) against the truth (only when every row has a prob)

Bands and "overall" are POOLED over their candidates (not the mean of subtask ratios as in
analysis.stats.summarise_ratio): acceptance precision is the quality of the curated data set, which
pools its images; prompts are resampled within each subtask for the CIs. Undefined values are never 0
or NaN: a band with no accepted image has acceptance precision "n/a (0 accepted)"; AUROC without
probabilities (parse mode) is "not available (no probabilities: parse mode)".

`exploitation` compares one judge on two image sources (its own new images vs the base images): the
drop in AUROC / acceptance precision when the generator has moved into the judge's blind spots.
`run_diagnostics(store)` reads a `unigap run` store and returns the whole JSON-ready section.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Protocol

import numpy as np

from unigap.analysis.stats import Counts, ci, ratio
from unigap.analysis.table import fmt as pct
from unigap.vocab import BANDS, IMPROVED_JUDGE, OVERALL, SELF_JUDGE, SOURCE_BASE, SOURCE_IMPROVED, is_external

NO_PROBS = "not available (no probabilities: parse mode)"


class Row(Protocol):
    candidate_id: int
    judge: str
    verdict: int | None
    prob: float | None
    prompt_id: str
    subtask: str
    band: str | None


# metric -> (numerator mask, denominator mask, what an empty denominator means), over judge j and truth t
RATIOS = {
    "acceptance_precision": (lambda j, t: (j == 1) & (t == 1), lambda j, t: (j == 1) & (t >= 0), "n/a (0 accepted)"),
    "rejection_precision": (lambda j, t: (j == 0) & (t == 0), lambda j, t: (j == 0) & (t >= 0), "n/a (0 rejected)"),
    "recall": (lambda j, t: (j == 1) & (t == 1), lambda j, t: (t == 1) & (j >= 0), "n/a (0 right images)"),
}


class Paired:
    """Candidates judged by both the judge and the truth: verdicts (N,) with -1 = none, probs (N,) NaN = none."""

    def __init__(self, rows: Iterable[Row], judge: str, truth: str) -> None:
        by: dict[int, dict[str, Row]] = defaultdict(dict)
        for r in rows:
            by[r.candidate_id][r.judge] = r
        ids = [c for c in sorted(by) if judge in by[c] and truth in by[c]]
        self.prompt = [by[c][judge].prompt_id for c in ids]
        self.subtask = [by[c][judge].subtask for c in ids]
        self.band = [by[c][judge].band or "-" for c in ids]
        self.j = np.array([_v(by[c][judge]) for c in ids], dtype=np.int64)
        self.t = np.array([_v(by[c][truth]) for c in ids], dtype=np.int64)
        self.p = np.array([np.nan if by[c][judge].prob is None else float(by[c][judge].prob) for c in ids])

    def groups(self) -> dict[str, np.ndarray]:
        """Candidate masks of each band (in BANDS order where they occur) and of "overall"."""
        order = [b for b in BANDS if b in self.band] + sorted(set(self.band) - set(BANDS))
        out = {b: np.array([x == b for x in self.band], dtype=bool) for b in order}
        out[OVERALL] = np.ones(len(self.band), dtype=bool)
        return out


def _v(row: Row) -> int:
    return -1 if row.verdict is None else int(row.verdict)


def subtask_counts(d: Paired, sel: np.ndarray, num: np.ndarray, den: np.ndarray) -> list[Counts]:
    """Per-prompt counts of the selected candidates, one Counts per subtask (the resampling strata)."""
    out = []
    for sub in dict.fromkeys(s for s, m in zip(d.subtask, sel) if m):
        keep = sel & np.array([s == sub for s in d.subtask])
        pids = list(dict.fromkeys(p for p, m in zip(d.prompt, keep) if m))
        idx = np.array([pids.index(p) for p, m in zip(d.prompt, keep) if m], dtype=np.int64)
        out.append(Counts(np.bincount(idx, num[keep], len(pids)), np.bincount(idx, den[keep], len(pids))))
    return out


def pooled_ratio(strata: list[Counts], n_boot: int, rng: np.random.Generator, empty: str) -> dict:
    """sum(num)/sum(den) over all strata, CI by resampling prompts within each stratum; `empty` if den is 0."""
    num, den = sum(float(c.num.sum()) for c in strata), sum(float(c.den.sum()) for c in strata)
    if den == 0:
        return {"value": None, "ci": None, "num": int(num), "den": 0, "note": empty}
    boot_num, boot_den = np.zeros(n_boot), np.zeros(n_boot)
    for c in strata:
        idx = rng.integers(0, len(c.num), size=(n_boot, len(c.num)))
        boot_num += c.num[idx].sum(1)
        boot_den += c.den[idx].sum(1)
    return {"value": num / den, "ci": ci(ratio(boot_num, boot_den)), "num": int(num), "den": int(den)}


def auroc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Mann-Whitney AUROC (ties count one half); None without both classes."""
    pos, neg = int((labels == 1).sum()), int((labels == 0).sum())
    if pos == 0 or neg == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)  # average 1-based ranks of ties
    return float((ranks[labels == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def auroc_entry(d: Paired, sel: np.ndarray, n_boot: int, rng: np.random.Generator) -> dict:
    keep = sel & (d.t >= 0)
    if np.isnan(d.p[keep]).any() or not keep.any():
        return {"value": None, "ci": None, "note": NO_PROBS if np.isnan(d.p[keep]).any() else "n/a (no images)"}
    value = auroc(d.p[keep], d.t[keep])
    if value is None:
        return {"value": None, "ci": None, "note": "n/a (one class only)", "n": int(keep.sum())}
    return {"value": value, "ci": ci(_auroc_boot(d, keep, n_boot, rng)), "n": int(keep.sum())}


def _auroc_boot(d: Paired, keep: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Resample prompts (within subtasks) with replacement and recompute the pooled AUROC."""
    members: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i in np.flatnonzero(keep):
        members[d.subtask[i]][d.prompt[i]].append(int(i))
    strata = [list(m.values()) for m in members.values()]
    out = np.full(n_boot, np.nan)
    for b in range(n_boot):
        idx = [i for prompts in strata for k in rng.integers(0, len(prompts), len(prompts)) for i in prompts[k]]
        value = auroc(d.p[idx], d.t[idx])
        out[b] = np.nan if value is None else value
    return out


def judge_diagnostics(
    rows: Iterable[Row], judge: str = SELF_JUDGE, truth: str = "oracle", n_boot: int = 1000, seed: int = 0
) -> dict:
    """{"bands": {band|overall: {metric: entry, "n": candidates, "accepted": n}}, "judge", "truth", "probabilities"}."""
    d = Paired(rows, judge, truth)
    rng = np.random.default_rng(seed)
    bands = {}
    for name, sel in d.groups().items():
        entry: dict[str, Any] = {
            "n": int((sel & (d.j >= 0) & (d.t >= 0)).sum()),
            "accepted": int((sel & (d.j == 1)).sum()),
        }
        for metric, (num, den, empty) in RATIOS.items():
            entry[metric] = pooled_ratio(subtask_counts(d, sel, num(d.j, d.t), den(d.j, d.t)), n_boot, rng, empty)
        entry["auroc"] = auroc_entry(d, sel, n_boot, rng)
        bands[name] = entry
    return {
        "judge": judge,
        "truth": truth,
        "probabilities": bool(len(d.p)) and not np.isnan(d.p).any(),
        "n": len(d.j),
        "bands": bands,
    }


def exploitation(on_base: dict, on_own: dict) -> dict:
    """Per band: metric on base images minus metric on the judge's own new images (> 0 = exploited)."""
    out = {}
    for band, base in on_base["bands"].items():
        own = on_own["bands"].get(band)
        out[band] = {m: _drop(base[m], own[m] if own else None) for m in ("auroc", "acceptance_precision")}
    return out


def _drop(base: dict, own: dict | None) -> dict:
    if own is None or base.get("value") is None or own.get("value") is None:
        why = (own or {}).get("note") or base.get("note") or "n/a"
        return {"value": None, "note": why}
    return {"value": base["value"] - own["value"], "base": base["value"], "own": own["value"]}


def fmt(entry: dict, digits: int = 3) -> str:
    """One cell: "0.812 [0.751, 0.866]" or the entry's note ("n/a (0 accepted)")."""
    if entry.get("value") is None:
        return entry.get("note", "n/a")
    text = f"{entry['value']:.{digits}f}"
    if entry.get("ci"):
        lo, hi = entry["ci"]
        text += f" [{lo:.{digits}f}, {hi:.{digits}f}]"
    return text


# --- a run store -> the JSON-ready section -----------------------------------------------

VIEWS = {  # name -> (judging model's column, image source)
    "base_judge_on_base_images": (SELF_JUDGE, SOURCE_BASE),
    "improved_judge_on_base_images": (IMPROVED_JUDGE, SOURCE_BASE),
    "improved_judge_on_own_images": (SELF_JUDGE, SOURCE_IMPROVED),
}


def run_diagnostics(store: Any, prompt_ids: set[str] | None = None, n_boot: int = 1000, seed: int = 0) -> dict:
    """Every view x external judge of a run store, restricted to `prompt_ids` (e.g. the eval split).

    {"views": {view: {truth: judge_diagnostics}}, "exploitation": {truth: per band drops},
     "missing": [views without data]}."""
    out: dict[str, Any] = {"views": {}, "exploitation": {}, "missing": []}
    for view, (judge, source) in VIEWS.items():
        rows = [r for r in store.judgments(source=source) if prompt_ids is None or r.prompt_id in prompt_ids]
        truths = sorted({r.judge for r in rows if is_external(r.judge)})
        if not truths or not any(r.judge == judge for r in rows):
            out["missing"].append(view)
            continue
        out["views"][view] = {t: judge_diagnostics(rows, judge, t, n_boot, seed) for t in truths}
    base, own = (
        out["views"].get("improved_judge_on_base_images", {}),
        out["views"].get("improved_judge_on_own_images", {}),
    )
    out["exploitation"] = {t: exploitation(base[t], own[t]) for t in base if t in own}
    return out


def table_rows(section: dict) -> list[dict[str, str]]:
    """Flat rows for a printout: view, truth, band, and each metric in % with one decimal (AUROC x100) and its
    CI, or its note."""
    rows = []
    for view, by_truth in section.get("views", {}).items():
        for truth, diag in by_truth.items():
            for band, e in diag["bands"].items():
                rows.append(
                    {
                        "view": view,
                        "truth": truth,
                        "band": band,
                        "n": str(e["n"]),
                        "accepted": str(e["accepted"]),
                        **{
                            m: pct(e[m]) if e[m].get("value") is not None else e[m].get("note", "n/a")
                            for m in (*RATIOS, "auroc")
                        },
                    }
                )
    return rows
