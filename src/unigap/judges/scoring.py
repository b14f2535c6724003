"""Benchmark-scorer aggregation ("Gen." of the paper's tables), pure functions over stored rows.

A scorer judge (geneval, t2i-compbench, sciscore) stores a continuous `score` per candidate.
Gen. of a subtask = the mean score of its candidates x `scale` (100 for GenEval accuracy and the
T2I-CompBench metrics, as the paper reports them; 1 for SciScore, whose raw values the paper's
Science-T2I column shows, about 22-27); a band and the overall value = the unweighted mean of
their subtasks' values (paper.md §1.2: "Overall = unweighted mean of the subtask values"). CIs:
95 % bootstrap over prompts within each subtask (`unigap.analysis.stats.summarise_ratio`: the
mean score is the ratio sum(score) / count of per-prompt sums).

Candidates whose scorer failed (score None) are left out, and counted.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Mapping

import numpy as np

from unigap.analysis.stats import Counts, summarise_ratio

SCORE_SCALE = {"geneval": 100.0, "t2i-compbench": 100.0, "sciscore": 1.0}
SCORER_JUDGES = tuple(SCORE_SCALE)


def score_scale(judge: str) -> float:
    """x100 for fractions in [0, 1] (GenEval, T2I-CompBench), x1 for SciScore; 100 for unknown judges."""
    return SCORE_SCALE.get(judge, 100.0)


def per_prompt_scores(rows: Iterable[Any], judge: str) -> tuple[dict[str, Counts], dict[str, str], int]:
    """({subtask: Counts(sum of scores per prompt, scored candidates per prompt)}, bands, n without score).

    rows: objects with judge, prompt_id, subtask, band, score (JudgmentRow with its `score`)."""
    sums: dict[str, dict[str, list[float]]] = defaultdict(dict)
    bands: dict[str, str] = {}
    missing = 0
    for r in rows:
        if r.judge != judge:
            continue
        if r.band:
            bands[r.subtask] = r.band
        cell = sums[r.subtask].setdefault(r.prompt_id, [0.0, 0.0])
        score = getattr(r, "score", None)
        if score is None or score != score:
            missing += 1
            continue
        cell[0] += float(score)
        cell[1] += 1.0
    counts = {s: Counts(np.array([v[0] for v in d.values()]), np.array([v[1] for v in d.values()]))
              for s, d in sums.items()}
    return counts, bands, missing


def generation_scores(rows: Iterable[Any], judge: str, n_boot: int = 1000, seed: int = 0,
                      scale: float | None = None) -> dict:
    """Gen. of one scorer: {"subtasks": {s: entry}, "bands": {b: entry}, "overall": entry,
    "scale": k, "missing": n}; entry = {"value", "ci", "sum", "n"} with value and ci already x scale."""
    counts, bands, missing = per_prompt_scores(rows, judge)
    k = score_scale(judge) if scale is None else scale
    out = summarise_ratio(counts, bands, n_boot, seed)
    for s, e in out["subtasks"].items():
        e["sum"], e["n"] = float(counts[s].num.sum()), int(counts[s].den.sum())
        e.pop("num", None), e.pop("den", None)
    for e in [*out["subtasks"].values(), *out["bands"].values(), out["overall"]]:
        _scale(e, k)
    members = {b: [s for s in counts if bands.get(s) == b] for b in out["bands"]}
    return {**out, "band_members": members, "scale": k, "missing": missing}


def _scale(e: dict, k: float) -> None:
    if e.get("value") is not None:
        e["value"] *= k
    if e.get("ci"):
        e["ci"] = [c * k for c in e["ci"]]


def geneval_summary(rows: Iterable[Any], judge: str = "geneval") -> dict:
    """GenEval's summary_scores.py figures from stored verdicts (see judges.geneval.summary)."""
    from unigap.judges.geneval.summary import summarize

    return summarize({"tag": r.subtask, "prompt": r.prompt_id, "correct": bool(r.verdict)}
                     for r in rows if r.judge == judge and r.verdict is not None)


# ---- the paper's Table-1 layout --------------------------------------------------------------------

def table1_rows(gen: Mapping, non: Mapping | None = None, und: Mapping | None = None,
                percent: tuple[bool, bool] = (True, True)) -> list[dict]:
    """Rows of the paper's Table 1: one per subtask, then one per band, then "Overall".

    gen: `generation_scores(...)` (already scaled); non / und: summarise_ratio-style dicts of the
    non-unification rate and the understanding win rate (fractions; x100 when `percent` says so).
    Each row: {"row", "kind": "subtask"|"band"|"overall", "band", "gen", "gen_ci", "non", "non_ci",
    "und", "und_ci"}; missing values are None. Overall = unweighted mean of the subtasks (as computed
    by summarise_ratio)."""
    k_non, k_und = (100.0 if percent[0] else 1.0), (100.0 if percent[1] else 1.0)
    band_of = {s: b for b, members in _bands(gen).items() for s in members}
    rows = [_row(s, "subtask", band_of.get(s), gen["subtasks"].get(s), _get(non, "subtasks", s), k_non,
                 _get(und, "subtasks", s), k_und) for s in gen["subtasks"]]
    rows += [_row(b, "band", b, e, _get(non, "bands", b), k_non, _get(und, "bands", b), k_und)
             for b, e in gen.get("bands", {}).items()]
    rows.append(_row("Overall", "overall", None, gen["overall"], (non or {}).get("overall"), k_non,
                     (und or {}).get("overall"), k_und))
    return rows


def _bands(gen: Mapping) -> dict[str, list[str]]:
    return gen.get("band_members", {})


def _get(m: Mapping | None, level: str, key: str) -> Mapping | None:
    return None if m is None else m.get(level, {}).get(key)


def _row(name: str, kind: str, band: str | None, g: Mapping | None, n: Mapping | None, kn: float,
         u: Mapping | None, ku: float) -> dict:
    def val(e: Mapping | None, k: float) -> tuple[float | None, list[float] | None]:
        if not e or e.get("value") is None:
            return None, None
        return e["value"] * k, [c * k for c in e["ci"]] if e.get("ci") else None

    (gv, gc), (nv, nc), (uv, uc) = val(g, 1.0), val(n, kn), val(u, ku)
    return {"row": name, "kind": kind, "band": band, "gen": gv, "gen_ci": gc, "non": nv, "non_ci": nc,
            "und": uv, "und_ci": uc}


def format_table1(rows: list[dict], title: str = "") -> str:
    """Plain-text Table 1 (Gen. / Non. / Und., 2 decimals, '-' when absent)."""
    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}"

    width = max([len(r["row"]) for r in rows] + [8])
    lines = [title] if title else []
    lines.append(f"{'':<{width}}  {'Gen.':>7}  {'Non.':>7}  {'Und.':>7}")
    lines += [f"{r['row']:<{width}}  {f(r['gen']):>7}  {f(r['non']):>7}  {f(r['und']):>7}" for r in rows]
    return "\n".join(lines)
