"""Rich tables of stored metrics (values in %, with 95 % bootstrap CIs)."""

from __future__ import annotations

from rich.table import Table

from unigap.cli._common import out

BAND_ORDER = ("easy", "medium", "hard")


def pct(e: dict | None) -> str:
    if not e or e.get("value") is None:
        return "—"
    ci = e.get("ci")
    return f"{100 * e['value']:.1f} [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else f"{100 * e['value']:.1f}"


def metric_columns(metrics: dict) -> list[str]:
    first = ["non_unification"] + [k for k in metrics if k.startswith("generation_score/")]
    rest = [k for k in metrics if k.startswith(("weak_generation/", "self_accuracy/"))]
    return [k for k in first + rest if k in metrics]


def metrics_table(result: dict, title: str = "audit") -> Table:
    metrics = result["metrics"]
    cols = metric_columns(metrics)
    table = Table(title=f"{title} (%, 95 % CI over prompts)")
    table.add_column("subtask / band")
    for c in cols:
        table.add_column(c.replace("_", " "), justify="right")
    some = metrics[cols[0]] if cols else {"subtasks": {}, "bands": {}}
    bands = result.get("bands_of") or {}
    for band in BAND_ORDER:
        members = [s for s in some["subtasks"] if bands.get(s) == band]
        for s in members:
            table.add_row(f"  {s}", *[pct(metrics[c]["subtasks"].get(s)) for c in cols])
        if band in some.get("bands", {}):
            table.add_row(f"[bold]{band}[/bold]", *[pct(metrics[c]["bands"].get(band)) for c in cols])
    others = [s for s in some["subtasks"] if bands.get(s) not in BAND_ORDER]
    for s in others:
        table.add_row(s, *[pct(metrics[c]["subtasks"].get(s)) for c in cols])
    table.add_row("[bold]overall[/bold]", *[pct(metrics[c].get("overall")) for c in cols])
    return table


def print_metrics(result: dict) -> None:
    out.print(metrics_table(result))
    unparsed = result.get("unparsed", {})
    for judge, c in unparsed.items():
        if c.get("unparsed") or c.get("failed"):
            out.print(f"{judge}: {c.get('unparsed', 0)} unparsed, {c.get('failed', 0)} failed")
    counts = result.get("counts")
    if counts:
        out.print(f"counts: {counts}")
