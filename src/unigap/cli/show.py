"""Rich tables of stored metrics (values in %, with 95 % bootstrap CIs): every printer the commands share
(`unigap audit`, `show`, `run`), so that no command module imports another."""

from __future__ import annotations

from rich.table import Table

from unigap.analysis.table import arrow, before_after_rows, cell, columns, fmt
from unigap.cli._common import out
from unigap.vocab import BANDS, OVERALL, SOURCE_BASE, SOURCE_IMPROVED

def pct(e: dict | None) -> str:
    return fmt(e)


def metrics_tables(result: dict, title: str = "audit") -> list[Table]:
    """Columns from the metric table. With several external judges (a mixed suite: each benchmark's scorer
    covers its own subtasks): non-unification over every subtask, then one table per judge over its
    subtasks (judges in the order of their first subtask); else one table."""
    cols = columns(result["metrics"], shown_only=True)
    judges = list(dict.fromkeys(c.judge for c in cols if c.judge))
    if len(judges) <= 1:
        return [metrics_table(result, cols, title)]
    order = list(result["metrics"].get("non_unification", {}).get("subtasks", {}))
    first = {j: min((order.index(s) for s in result["metrics"][_first(cols, j)]["subtasks"] if s in order),
                    default=len(order)) for j in judges}
    tables = [metrics_table(result, [c for c in cols if not c.judge], title)]
    return tables + [metrics_table(result, [c for c in cols if c.judge == j], f"{title}, {j}")
                     for j in sorted(judges, key=first.__getitem__)]


def _first(cols: list, judge: str) -> str:
    return next(c.key for c in cols if c.judge == judge)


def metrics_table(result: dict, cols: list | None = None, title: str = "audit") -> Table:
    """One row per subtask of the first column's metric (grouped by band, band rows bold) and overall."""
    metrics = result["metrics"]
    cols = columns(metrics, shown_only=True) if cols is None else cols
    table = Table(title=f"{title} (%, 95 % CI over prompts; ↑/↓ = higher/lower is better)")
    table.add_column("subtask / band")
    for c in cols:
        table.add_column(c.label + arrow(c.spec), justify="right")
    some = metrics[cols[0].key] if cols else {"subtasks": {}, "bands": {}}
    bands = result.get("bands_of") or {}
    for band in BANDS:
        for s in [s for s in some["subtasks"] if bands.get(s) == band]:
            table.add_row(f"  {s}", *[fmt(metrics[c.key]["subtasks"].get(s), spec=c.spec) for c in cols])
        if band in some.get("bands", {}):
            table.add_row(f"[bold]{band}[/bold]", *[fmt(metrics[c.key]["bands"].get(band), spec=c.spec) for c in cols])
    for s in [s for s in some["subtasks"] if bands.get(s) not in BANDS]:
        table.add_row(s, *[fmt(metrics[c.key]["subtasks"].get(s), spec=c.spec) for c in cols])
    table.add_row(f"[bold]{OVERALL}[/bold]", *[fmt(metrics[c.key].get("overall"), spec=c.spec) for c in cols])
    return table


def side_by_side(results: dict[str, dict]) -> Table:
    """The paper's Figure-2 table: non-unification per subtask and band, one column per run (model)."""
    table = Table(title="non-unification per subtask (%, 95 % CI over prompts; lower is better)")
    table.add_column("subtask / band")
    for name in results:
        table.add_column(name, justify="right")
    groups: dict[str, str | None] = {}
    for r in results.values():
        groups.update({s: (r.get("bands_of") or {}).get(s) for s in r["metrics"].get("non_unification", {}).get("subtasks", {})})
    order = [s for band in BANDS for s in groups if groups[s] == band] + [s for s in groups if groups[s] not in BANDS]
    for group in order + [b for b in BANDS if any(groups[s] == b for s in groups)] + [OVERALL]:
        label = f"[bold]{group}[/bold]" if group in (*BANDS, OVERALL) else f"  {group}"
        table.add_row(label, *[fmt(cell(r["metrics"].get("non_unification", {}), group)) for r in results.values()])
    return table


def benchmark_tables(sides: dict[str, dict], win_rate: dict | None = None) -> list[Table]:
    """The paper's tables: one per benchmark in the run (GenEval, T2I-CompBench, Science-T2I), a column
    per subtask and Overall, per model Gen. / Und. / Non. (analysis.table.benchmark_blocks)."""
    from unigap.analysis.table import benchmark_blocks

    tables = []
    for block in benchmark_blocks(sides, win_rate):
        t = Table(title=block.title)
        for i, h in enumerate(block.header):
            t.add_column(h, justify="left" if i < 2 else "right")
        for row in block.rows:
            t.add_row(*row)
        tables.append(t)
    return tables


VIEW_TITLES = {"base_judge_on_base_images": "base judge on base images",
               "improved_judge_on_base_images": "improved judge on base images",
               "improved_judge_on_own_images": "improved judge on its own images"}


def diagnostics_tables(section: dict) -> list[Table]:
    """The self-judge as a selector (analysis.json "diagnostics"): one table per view and truth judge."""
    from unigap.analysis.diagnostics import table_rows

    groups: dict[tuple[str, str], list[dict]] = {}
    for r in table_rows(section):
        groups.setdefault((r["view"], r["truth"]), []).append(r)
    tables = []
    for (view, truth), rows in groups.items():
        t = Table(title=f"self-judge as a selector — {VIEW_TITLES.get(view, view)} ({truth} as truth, 95 % CI)")
        for col in ("band", "n", "accepted", "acceptance precision", "rejection precision", "recall", "AUROC"):
            t.add_column(col, justify="left" if col == "band" else "right")
        for r in rows:
            t.add_row(r["band"], r["n"], r["accepted"], r["acceptance_precision"], r["rejection_precision"],
                      r["recall"], r["auroc"])
        tables.append(t)
    return tables


def exploitation_lines(section: dict) -> list[str]:
    """One line per truth judge and band: the judge's drop on its own new images versus the base images."""
    lines = []
    for truth, bands in (section.get("exploitation") or {}).items():
        for band, m in bands.items():
            parts = [f"{name.replace('_', ' ')} {m[name]['value']:+.3f}" if m[name].get("value") is not None
                     else f"{name.replace('_', ' ')} {m[name].get('note', 'n/a')}" for name in m]
            lines.append(f"exploitation ({truth}, {band}; base images minus own images): " + ", ".join(parts))
    return lines


def win_rate_lines(analysis: dict) -> list[str]:
    """Per truth judge: the improved self-judge's win rate over the base one on the base images, and the
    kinds of its wins and losses (the paper: mostly corrected false positives)."""
    lines = []
    for truth, w in (analysis.get("win_rate") or {}).items():
        rate = w["win_rate"]
        bands = ", ".join(f"{b} {fmt(rate['bands'][b])}" for b in BANDS if b in rate.get("bands", {}))
        k, share = w.get("kinds_total", {}), w.get("fp_correction_share_of_wins")
        lines.append(f"win rate ({truth} as truth, improved vs base self-judge on the base images, %): overall "
                     f"{fmt(rate['overall'])}" + (f"; {bands}" if bands else ""))
        lines.append(f"  {w.get('disagreements', 0)} disagreements: {k.get('fp_corrected', 0)} false positives corrected, "
                     f"{k.get('fn_corrected', 0)} false negatives corrected, {k.get('new_fp', 0)} new false positives, "
                     f"{k.get('new_fn', 0)} new false negatives"
                     + ("" if share is None else f" ({100 * share:.0f} % of the wins are corrected false positives)"))
    return lines


def print_diagnostics(analysis: dict) -> None:
    for line in win_rate_lines(analysis):
        out.print(line, markup=False, highlight=False)
    section = analysis.get("diagnostics") or {}
    for t in diagnostics_tables(section):
        out.print(t)
    for line in exploitation_lines(section):
        out.print(line, markup=False, highlight=False)


def failure_footnote(failures: dict) -> list[str]:
    """The table's footnote: each judge with failed verdicts (and failed generations), with the first reason."""
    lines = []
    for judge, f in failures.items():
        of = f" of {f['of']}" if f.get("of") else ""
        what = "candidates could not be generated" if judge == "generation" else f"{judge} judgments failed"
        lines.append(f"* {f['failed']}{of} {what}; first reason: {f.get('first_reason')}")
    if lines:
        lines.append("  (a rerun of the same command judges failed verdicts again; a dash in the table is a cell "
                     "without verdicts)")
    return lines


def print_metrics(result: dict) -> None:
    for t in metrics_tables(result):
        out.print(t)
    for t in benchmark_tables({result.get("source") or "base": result}):
        out.print(t)
    unparsed = result.get("unparsed", {})
    for judge, c in unparsed.items():
        if c.get("unparsed") or c.get("failed"):
            out.print(f"{judge}: {c.get('unparsed', 0)} unparsed, {c.get('failed', 0)} failed")
    for line in failure_footnote(result.get("failures") or {}):
        out.print(line, markup=False, highlight=False)
    counts = result.get("counts")
    if counts:
        out.print(f"counts: {counts}")


def before_after_table(results: dict) -> Table:
    header, rows = before_after_rows(results["before"]["metrics"], results["after"]["metrics"])
    table = Table(title="before -> after self-improvement (eval split, %, 95 % CI over prompts)")
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    return table


def understand_table(rows: list[dict]) -> Table:
    """lmms-eval scores, base vs improved (value ± stderr), the change, and failed items."""
    table = Table(title="understanding benchmarks (lmms-eval), base -> improved")
    for col in ("task", "metric", "base", "improved", "change", "failed"):
        table.add_column(col, justify="left" if col in ("task", "metric") else "right")
    for r in rows:
        table.add_row(r["task"], r["metric"], _pm(r.get("base"), r.get("base_stderr")),
                      _pm(r.get("improved"), r.get("improved_stderr")),
                      "—" if r.get("delta") is None else f"{r['delta']:+.3f}",
                      f"{r.get('base_failed') or 0} / {r.get('improved_failed') or 0}")
    return table


def _pm(value: float | None, stderr: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" + (f" ± {stderr:.3f}" if isinstance(stderr, (int, float)) else "")


def print_results(results: dict, analysis: dict | None = None) -> None:
    """The before/after table, the paper's table per benchmark (Und. from analysis.json's win rates), and
    the understanding benchmarks when run."""
    out.print(before_after_table(results))
    for side in ("before", "after"):
        for line in failure_footnote(results[side].get("failures") or {}):
            out.print(f"{side}: {line}" if line.startswith("*") else line, markup=False, highlight=False)
    sides = {SOURCE_BASE: results["before"], SOURCE_IMPROVED: results["after"]}
    for t in benchmark_tables(sides, (analysis or {}).get("win_rate")):
        out.print(t)
    if results.get("understand"):
        out.print(understand_table(results["understand"]))
