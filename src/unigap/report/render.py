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

from unigap.analysis.table import UNITS, Block, arrow, before_after_rows, benchmark_blocks, fmt
from unigap.errors import UnigapError
from unigap.files import read_json, write_text
from unigap.report.plots import band_bars, line_plot, png_data_url
from unigap.report.summary import TERM_ANCHORS, change, summary, terms
from unigap.store import RunStore
from unigap.vocab import IMPROVED_JUDGE, SELF_JUDGE, SOURCE_BASE, SOURCE_IMPROVED

GRID_SIZE = 12


def headline_rows(analysis: dict) -> list[dict]:
    """The before/after table, metric by metric (the shared metric table): one row per band, the metric's name
    (linked to its definition) on its first row, and what the two CIs say."""
    before, after = analysis.get("before", {}), analysis.get("after", {})
    if "metrics" not in before:
        return []
    changes = before_after_rows(before["metrics"], after.get("metrics", {}))
    rows = []
    for i, ch in enumerate(changes):
        spec, first = ch.column.spec, i == 0 or changes[i - 1].column != ch.column
        rows.append(
            {
                "first": first,
                "span": sum(1 for x in changes if x.column == ch.column),
                "metric": ch.column.label,
                "abbr": spec.abbr,
                "arrow": arrow(spec).strip(),
                "anchor": TERM_ANCHORS.get(spec.key, ""),
                "band": ch.group,
                "before": fmt(ch.before, spec=spec),
                "after": fmt(ch.after, spec=spec),
                "reading": change(spec, ch.before, ch.after),
            }
        )
    return rows


def benchmark_tables(analysis: dict) -> list[Block]:
    """The paper's table per benchmark: base and improved rows, Und. from the win rates."""
    sides = {
        label: analysis[key]
        for label, key in ((SOURCE_BASE, "before"), (SOURCE_IMPROVED, "after"))
        if "metrics" in analysis.get(key, {})
    }
    return benchmark_blocks(sides, analysis.get("win_rate"))


def nonunif_plot(analysis: dict) -> str | None:
    series = {}
    for label, side in ((SOURCE_BASE, analysis.get("before", {})), (SOURCE_IMPROVED, analysis.get("after", {}))):
        m = side.get("metrics", {}).get("non_unification")
        if m:
            series[label] = m["bands"]
    return (
        band_bars(series, "non-unification by band (lower is better)", "% rejected by own understanding")
        if series
        else None
    )


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


GALLERIES = {
    "accepted": "Accepted by its own understanding",
    "rejected": "Rejected by its own understanding",
    "discard": "Discard pool: nothing accepted",
}
JUDGE_NAMES = {SELF_JUDGE: "self-judge", IMPROVED_JUDGE: "improved self-judge"}
VERDICT_MARKS = {"1": "✓", "0": "✗", "unparsed": "?", "failed": "!"}


def grid_items(store: RunStore, kind: str, limit: int = GRID_SIZE) -> dict:
    """One gallery of the base model's images on one split (the curated one, train, when it was audited): per
    prompt in store order, the first candidate its self-judge accepted / rejected, or for the discard pool (no
    candidate accepted) the first candidate; `limit` of them, with a caption saying which."""
    verdicts: dict[int, dict[str, Any]] = {}
    for r in store.judgments(source=SOURCE_BASE):
        verdicts.setdefault(r.candidate_id, {})[r.judge] = r
    by_prompt: dict[str, list] = {}
    for c in store.candidates(source=SOURCE_BASE):
        by_prompt.setdefault(c.prompt_id, []).append(c)
    prompts = {p.id: p for p in store.prompts()}
    split = _gallery_split(store, [prompts[p].split for p in by_prompt])
    picks = []
    for pid, cands in by_prompt.items():
        if prompts[pid].split != split:
            continue
        selfs = [verdicts.get(c.id, {}).get(SELF_JUDGE) for c in cands]
        pick = _pick(kind, cands, [s.verdict if s else None for s in selfs])
        if pick is not None:
            picks.append((pick, prompts[pid]))
    items = [_item(store, c, p, verdicts.get(c.id, {})) for c, p in _in_turn(picks)[:limit]]
    sizes = sorted({len(v) for p, v in by_prompt.items() if prompts[p].split == split})
    model = (store.config() or {}).get("model") or {}
    return {
        "title": GALLERIES[kind],
        "items": items,
        "caption": _caption(kind, split, sizes, len(items), len(picks), model.get("name")),
    }


def pair_items(store: RunStore, limit: int = GRID_SIZE) -> dict:
    """Before and after on the same prompts: per prompt the base model and the improved model hold
    candidates for, candidate 0 of each (drawn with the same sampling seed) with every judge's verdicts;
    `limit` prompts, the subtasks in turn, in store order (no choice by outcome)."""
    after = {c.prompt_id: c for c in store.candidates(source=SOURCE_IMPROVED) if c.idx == 0}
    before = {c.prompt_id: c for c in store.candidates(SOURCE_BASE, prompt_ids=after) if c.idx == 0}
    prompts = {p.id: p for p in store.prompts()}
    both = [pid for pid in before if pid in after]  # the base model's order
    picks = [((before[pid], after[pid]), prompts[pid]) for pid in both]
    verdicts: dict[int, dict[str, Any]] = {}
    for source in (SOURCE_BASE, SOURCE_IMPROVED) if both else ():
        for r in store.judgments(source=source):
            verdicts.setdefault(r.candidate_id, {})[r.judge] = r
    items = [
        {"before": _item(store, b, p, verdicts.get(b.id, {})), "after": _item(store, a, p, verdicts.get(a.id, {}))}
        for (b, a), p in _in_turn(picks)[:limit]
    ]
    splits = sorted({prompts[pid].split for pid in both})
    return {"items": items, "caption": _pair_caption(splits, len(items), len(both), _same_seeds(picks))}


def _same_seeds(picks: list) -> bool:
    return all(b.seed == a.seed for (b, a), _ in picks)


def _pair_caption(splits: list[str], shown: int, total: int, same_seed: bool) -> str:
    seed = "drawn with the same sampling seed" if same_seed else "drawn with different sampling seeds"
    where = " and ".join(splits) or "no"
    return (
        f"The {where} split: candidate 0 of the base model (left) and of the improved model (right), {seed}. "
        f"Shown: {shown} of the {total} prompts both models generated for, one prompt per subtask in turn, "
        "whatever their verdicts."
    )


def _in_turn(picks: list) -> list:
    """The subtasks in turn: the first pick of each subtask (in order of appearance), then the second, ..."""
    by: dict[str, list] = {}
    for c, p in picks:
        by.setdefault(p.subtask, []).append((c, p))
    return [
        x
        for i in range(max((len(v) for v in by.values()), default=0))
        for v in by.values()
        if i < len(v)
        for x in [v[i]]
    ]


def _pick(kind: str, cands: list, verdicts: list) -> Any:
    if kind == "discard":
        return None if any(v == 1 for v in verdicts) else cands[0]
    want = 1 if kind == "accepted" else 0
    return next((c for c, v in zip(cands, verdicts) if v == want), None)


def _gallery_split(store: RunStore, splits: list[str]) -> str | None:
    curated = ((store.config() or {}).get("curate") or {}).get("split", "train")
    return curated if curated in splits else (splits[0] if splits else None)


def _caption(kind: str, split: str | None, sizes: list[int], shown: int, total: int, model: str | None) -> str:
    n = str(sizes[0]) if len(sizes) == 1 else f"{sizes[0]}–{sizes[-1]}" if sizes else "0"
    which = {
        "accepted": f"the {total} prompts where its self-judge accepted at least one candidate (the first "
        "accepted one)",
        "rejected": f"the {total} prompts where its self-judge rejected at least one candidate (the first "
        "rejected one)",
        "discard": f"the {total} prompts where its self-judge accepted none, the discard pool that curriculum "
        "replay revisits (the first candidate)",
    }[kind]
    name = f" ({model})" if model else ""
    return (
        f"The base model{name}, {split} split, {n} candidates per prompt. Shown: {shown} of {which}, one "
        "prompt per subtask in turn (the first prompt of each subtask, then the second, ...)."
    )


def _item(store: RunStore, cand: Any, prompt: Any, judged: dict) -> dict:
    labels = []
    for judge, r in sorted(judged.items(), key=lambda kv: (kv[0] not in JUDGE_NAMES, kv[0])):
        v = (
            "unparsed"
            if r.verdict is None and r.status == "unparsed"
            else ("failed" if r.verdict is None else str(r.verdict))
        )
        labels.append(
            {"judge": JUDGE_NAMES.get(judge, judge), "verdict": v, "mark": VERDICT_MARKS.get(v, v), "raw": r.raw}
        )
    return {
        "src": png_data_url(store.load_image(cand.png)),
        "prompt": prompt.text,
        "subtask": prompt.subtask,
        "verdicts": labels,
    }


def diagnostics_rows(analysis: dict) -> list[dict]:
    """The selector table's rows (in %), the view and truth judge once per group (`span` rows); `auroc` left out
    (None) when no view has probabilities (parse mode), the reason then said once under the table."""
    from unigap.analysis.diagnostics import table_rows

    section = analysis.get("diagnostics") or {}
    probs = any(d.get("probabilities") for by in section.get("views", {}).values() for d in by.values())
    rows = table_rows(section)
    for i, r in enumerate(rows):
        key = (r["view"], r["truth"])
        r["first"] = i == 0 or (rows[i - 1]["view"], rows[i - 1]["truth"]) != key
        r["span"] = sum(1 for x in rows if (x["view"], x["truth"]) == key)
        r["auroc"] = r["auroc"] if probs else None
    return rows


def _prompts_by_split(store: RunStore) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in store.prompts():
        out[p.split] = out.get(p.split, 0) + 1
    return out


def training_context(run_dir: Path) -> dict:
    """The improve stage as it trained (RUN/improve/train.json, steps.csv): the loss per epoch; for grpo the
    reward per step beside the monitor judge's verdict on the same samples (reward hacking shows as the
    two parting), the KL; the self-judge's exploitation at the end."""
    path = run_dir / "improve" / "train.json"
    if not path.exists():
        return {}
    history = json.loads(path.read_text())
    epochs = history.get("epochs") or []
    out: dict[str, Any] = {
        "epochs": epochs,
        "exploitation": history.get("exploitation"),
        "loss_plot": line_plot(
            {"loss": ([e["epoch"] for e in epochs], [e["loss"] for e in epochs])},
            "training loss per epoch",
            "epoch",
            "loss",
        ),
    }
    steps = history.get("steps") or []
    if steps:
        xs = list(range(1, len(steps) + 1))
        lines = {
            k: (xs, [s.get(k) for s in steps])
            for k in steps[0]
            if k == "reward" or k.startswith(("reward/", "monitor/"))
        }
        monitors = tuple(k for k in lines if k.startswith("monitor/"))
        out["reward_plot"] = line_plot(
            lines,
            "grpo: reward and the monitor's verdict on the same samples",
            "step",
            "mean over the step's samples",
            dashed=monitors,
        )
        out["kl_plot"] = line_plot(
            {"KL to the reference (k3)": (xs, [s.get("kl", 0.0) for s in steps])}, "grpo: KL per token", "step", "KL"
        )
        out["steps"] = {
            "n": len(steps),
            "first": steps[0],
            "last": steps[-1],
            "monitors": [m.split("/", 1)[1] for m in monitors],
        }
    return out


def context(run_dir: Path) -> dict:
    apath = run_dir / "analysis.json"
    analysis = read_json(apath, f"rewrite it with `unigap analyse {run_dir}`") if apath.exists() else {}
    with RunStore.open_readonly(run_dir) as store:  # report only reads: a read-only run dir works
        ctx = {
            "run_dir": str(run_dir),
            "analysis_missing": not apath.exists(),
            "headline": headline_rows(analysis),
            "prompts_by_split": _prompts_by_split(store),
            "nonunif_plot": nonunif_plot(analysis),
            "winrate": winrate_rows(analysis),
            "benchmarks": benchmark_tables(analysis),
            "winrate_missing": (analysis.get("win_rate") or {}).get("missing"),
            "curriculum": analysis.get("curriculum", {}),
            "guard": analysis.get("guard", {}),
            "entk": analysis.get("entk", {}),
            "before_missing": analysis.get("before", {}).get("missing"),
            "grids": {k: grid_items(store, k) for k in ("accepted", "rejected", "discard")},
            "pairs": pair_items(store),
            "provenance": store.get_meta("provenance") or {},
            "config": store.config() or {},
            "counts": store.counts(),
            "agreement": (analysis.get("agreement") or {}).get("pairs"),
            "understand": analysis.get("understand") or [],
            "diagnostics": diagnostics_rows(analysis),
            "training": training_context(run_dir),
        }
    ctx["config_json"] = json.dumps(ctx["config"], indent=1)
    ctx["summary"] = summary(analysis, ctx["config"], ctx["prompts_by_split"])
    ctx["terms"], ctx["values"] = terms(), UNITS
    return ctx


def _signed(v: float, digits: int) -> str:
    """A number to `digits` decimals without a negative zero ("-0.00" -> "0.00")."""
    text = f"{v:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def render_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    run_dir = Path(run_dir)
    if not (run_dir / "run.sqlite").exists():
        raise UnigapError(f"{run_dir} is not a run directory (no run.sqlite)")
    env = Environment(loader=PackageLoader("unigap.report", "templates"), autoescape=select_autoescape(default=True))
    env.filters["pct"] = lambda v: "—" if v is None else f"{100 * v:.1f} %"
    env.filters["num"] = lambda v: "—" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))
    env.filters["kappa"] = lambda v, digits=3: "—" if not isinstance(v, (int, float)) or v != v else _signed(v, digits)
    env.filters["score3"] = lambda v: "—" if not isinstance(v, (int, float)) else f"{v:.3f}"
    env.filters["signed3"] = lambda v: "—" if not isinstance(v, (int, float)) else f"{v:+.3f}"
    html = env.get_template("report.html.j2").render(**context(run_dir))
    out = Path(out) if out else run_dir / "report.html"
    write_text(out, html)  # atomic: a killed report never leaves half a page
    return out
