"""`unigap report RUN_DIR`: one self-contained report.html, built only from what the run stored.

No model runs here: the report reads analysis.json (from `unigap analyse`) and the run store.
Everything is inline (CSS, plots and images as base64 PNG): the page makes no network request.
Every user-provided string goes through Jinja2's autoescaping.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from unigap.vocab import SELF_JUDGE, SOURCE_BASE, SOURCE_IMPROVED
from unigap.analysis.table import Block, before_after_rows, benchmark_blocks, fmt
from unigap.errors import UnigapError
from unigap.report.plots import band_bars, png_data_url
from unigap.store import RunStore
from unigap.files import read_json, write_text

GRID_SIZE = 12


def headline_rows(analysis: dict) -> tuple[list[str], list[dict]]:
    """(header, rows) of the before/after table, from the shared metric table."""
    before, after = analysis.get("before", {}), analysis.get("after", {})
    if "metrics" not in before:
        return [], []
    header, rows = before_after_rows(before["metrics"], after.get("metrics", {}))
    return header, [{"band": r[0], "cells": r[1:]} for r in rows]


def benchmark_tables(analysis: dict) -> list[Block]:
    """The paper's table per benchmark: base and improved rows, Und. from the win rates."""
    sides = {label: analysis[key] for label, key in ((SOURCE_BASE, "before"), (SOURCE_IMPROVED, "after"))
             if "metrics" in analysis.get(key, {})}
    return benchmark_blocks(sides, analysis.get("win_rate"))


def nonunif_plot(analysis: dict) -> str | None:
    series = {}
    for label, side in ((SOURCE_BASE, analysis.get("before", {})), (SOURCE_IMPROVED, analysis.get("after", {}))):
        m = side.get("metrics", {}).get("non_unification")
        if m:
            series[label] = m["bands"]
    return band_bars(series, "non-unification by band (lower is better)", "% rejected by own understanding") if series else None


def winrate_rows(analysis: dict) -> list[dict]:
    out = []
    for label, w in (analysis.get("win_rate") or {}).items():
        if not isinstance(w, dict) or "win_rate" not in w:
            continue
        for sub, e in w["win_rate"]["subtasks"].items():
            out.append({"judge": label, "group": sub, "value": fmt(e), **w["kinds"].get(sub, {})})
        for band, e in w["win_rate"]["bands"].items():
            out.append({"judge": label, "group": f"band: {band}", "value": fmt(e)})
        out.append({"judge": label, "group": "overall", "value": fmt(w["win_rate"]["overall"]), **w["kinds_total"]})
    return out


def grid_items(store: RunStore, kind: str, limit: int = GRID_SIZE) -> list[dict]:
    """Accepted / rejected base candidates (train split first) or discard-pool prompts, with every verdict."""
    verdicts: dict[int, dict[str, Any]] = {}
    for r in store.judgments(source=SOURCE_BASE):
        verdicts.setdefault(r.candidate_id, {})[r.judge] = r
    prompts = {p.id: p for p in store.prompts()}
    by_prompt: dict[str, list] = {}
    for c in store.candidates(source=SOURCE_BASE):
        by_prompt.setdefault(c.prompt_id, []).append(c)
    items = []
    for pid, cands in by_prompt.items():
        selfs = [verdicts.get(c.id, {}).get(SELF_JUDGE) for c in cands]
        if kind == "discard" and any(s and s.verdict == 1 for s in selfs):
            continue
        for c, s in zip(cands, selfs):
            if kind != "discard" and (s is None or s.verdict != (1 if kind == "accepted" else 0)):
                continue
            items.append(_item(store, c, prompts[pid], verdicts.get(c.id, {})))
            break
        if len(items) >= limit:
            break
    return items


def _item(store: RunStore, cand: Any, prompt: Any, judged: dict) -> dict:
    labels = []
    for judge, r in sorted(judged.items()):
        v = "unparsed" if r.verdict is None and r.status == "unparsed" else ("failed" if r.verdict is None else str(r.verdict))
        labels.append({"judge": judge, "verdict": v, "raw": r.raw})
    return {"src": png_data_url(store.load_image(cand.png)), "prompt": prompt.text, "subtask": prompt.subtask,
            "verdicts": labels}


def diagnostics_rows(analysis: dict) -> list[dict]:
    from unigap.analysis.diagnostics import table_rows

    return table_rows(analysis.get("diagnostics") or {})


def context(run_dir: Path) -> dict:
    apath = run_dir / "analysis.json"
    analysis = read_json(apath, f"rewrite it with `unigap analyse {run_dir}`") if apath.exists() else {}
    with RunStore.open_readonly(run_dir) as store:  # report only reads: a read-only run dir works
        ctx = {"run_dir": str(run_dir), "analysis_missing": not apath.exists(), "headline_header": headline_rows(analysis)[0], "headline": headline_rows(analysis)[1],
               "nonunif_plot": nonunif_plot(analysis), "winrate": winrate_rows(analysis),
               "benchmarks": benchmark_tables(analysis),
               "winrate_missing": (analysis.get("win_rate") or {}).get("missing"),
               "curriculum": analysis.get("curriculum", {}), "guard": analysis.get("guard", {}),
               "entk": analysis.get("entk", {}), "before_missing": analysis.get("before", {}).get("missing"),
               "grids": {k: grid_items(store, k) for k in ("accepted", "rejected", "discard")},
               "provenance": store.get_meta("provenance") or {}, "config": store.config() or {},
               "counts": store.counts(), "agreement": (analysis.get("agreement") or {}).get("pairs"),
               "understand": analysis.get("understand") or [], "diagnostics": diagnostics_rows(analysis)}
    ctx["config_json"] = json.dumps(ctx["config"], indent=1)
    return ctx


def render_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    run_dir = Path(run_dir)
    if not (run_dir / "run.sqlite").exists():
        raise UnigapError(f"{run_dir} is not a run directory (no run.sqlite)")
    env = Environment(loader=PackageLoader("unigap.report", "templates"), autoescape=select_autoescape(default=True))
    env.filters["pct"] = lambda v: "—" if v is None else f"{100 * v:.1f}%"
    env.filters["num"] = lambda v: "—" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))
    env.filters["score3"] = lambda v: "—" if not isinstance(v, (int, float)) else f"{v:.3f}"
    env.filters["signed3"] = lambda v: "—" if not isinstance(v, (int, float)) else f"{v:+.3f}"
    html = env.get_template("report.html.j2").render(**context(run_dir))
    out = Path(out) if out else run_dir / "report.html"
    write_text(out, html)  # atomic: a killed report never leaves half a page
    return out
