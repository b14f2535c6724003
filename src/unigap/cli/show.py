"""Rich tables of stored metrics (values in %, with 95 % bootstrap CIs): every printer the commands share
(`unigap audit`, `show`, `run`, `model eval`, `agree`, `understand`), so that no command module imports another.

Every table is a `Fitted`: at print time it takes the console's width and, when its columns do not fit, splits
them into parts (the row labels repeated in each) rather than cutting headers; its legend (the abbreviations,
from the metric table `unigap.analysis.table.METRICS`) follows it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from itertools import groupby

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from unigap.analysis.table import arrow, before_after_rows, block_legend, cell, columns, fmt, legend, spec_of
from unigap.cli._common import out
from unigap.vocab import BANDS, OVERALL, SOURCE_BASE, SOURCE_IMPROVED

WRAP_CAP = 18  # a name or note column is narrowed to this (wrapping its text) when the table does not fit


def pct(e: dict | None) -> str:
    return fmt(e)


@dataclass(frozen=True)
class Col:
    header: str
    justify: str = "right"
    wrap: bool = False  # names and notes: may wrap (at spaces, else folded) when space is short


def _lines(text: str) -> list[str]:
    return Text.from_markup(text).plain.split("\n")


def _width(text: str) -> int:
    from rich.cells import cell_len

    return max(cell_len(line) for line in _lines(text))


def _word(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(w) for line in _lines(text) for w in line.split()), default=0)


class Fitted:
    """A table laid out at print time for the console's width: its title as a line above it; when its columns do
    not fit, they are split into parts as even as can be, the first `keys` columns (row labels) repeated in each;
    then its legend, one line per abbreviation."""

    def __init__(
        self,
        title: str,
        cols: list[Col],
        rows: list[list[str]],
        keys: int = 1,
        legend: list[tuple[str, str]] | None = None,
        ends: set[int] | None = None,
    ) -> None:
        self.title, self.cols, self.rows, self.keys = title, cols, rows, keys
        self.legend, self.ends = legend or [], ends or set()

    def widths(self) -> tuple[list[int], list[int]]:
        """(natural, narrowest) width of each column: headers on one line / wrapped at spaces."""
        natural, narrow = [], []
        for i, c in enumerate(self.cols):
            cells = max((_width(r[i]) for r in self.rows), default=0)
            natural.append(max(_width(c.header), cells))
            narrow.append(max(_word(c.header), min(cells, WRAP_CAP) if c.wrap else cells))
        return natural, narrow

    def parts(self, width: int) -> tuple[list[list[int]], list[int]]:
        """Column indices of each part and the column widths (a table of n columns is sum(widths) + 3n + 1 wide)."""
        natural, narrow = self.widths()
        if sum(natural) + 3 * len(natural) + 1 <= width:
            return [list(range(len(self.cols)))], natural
        keys = list(range(self.keys))
        room = width - sum(narrow[i] + 3 for i in keys) - 1  # for the other columns of each part
        cuts = _even_split([narrow[i] + 3 for i in range(self.keys, len(self.cols))], room)
        parts = [keys + [self.keys + j for j in part] for part in cuts]
        spare = min(room - sum(narrow[i] + 3 for i in part[self.keys :]) for part in parts)
        return parts, _widen(narrow, natural, spare)

    def tables(self, width: int) -> list[Table]:
        parts, widths = self.parts(width)
        tables = []
        for part in parts:
            t = Table()
            for i in part:
                c = self.cols[i]
                t.add_column(c.header, justify=c.justify, width=widths[i], overflow="fold")  # type: ignore[arg-type]
            for r, row in enumerate(self.rows):
                t.add_row(*[row[i] for i in part], end_section=r in self.ends)
            tables.append(t)
        return tables

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.title:
            yield Text(self.title, style="bold")
        yield from self.tables(options.max_width)
        if self.legend:
            yield legend_grid(self.legend)


def _even_split(widths: list[int], room: int) -> list[list[int]]:
    """Contiguous parts of `widths` (indices), each summing to at most `room` (a column wider than `room` alone
    makes its own part): as few parts as possible, and of those the split whose widest part is narrowest."""

    n, k, used = len(widths), 1, 0
    for w in widths:  # the fewest parts: fill each as far as it goes
        if used and used + w > room:
            k, used = k + 1, 0
        used += w

    @functools.cache
    def best(i: int, parts: int) -> tuple[int, tuple[int, ...]]:  # (widest part, cut points) of widths[i:]
        if parts == 1:
            return sum(widths[i:]), ()
        options = [
            (max(sum(widths[i:j]), best(j, parts - 1)[0]), (j, *best(j, parts - 1)[1]))
            for j in range(i + 1, n - parts + 2)
        ]
        return min(options, key=lambda o: (o[0], [-c for c in o[1]]))  # ties: the fuller parts first

    edges = [0, *best(0, k)[1], n]
    return [list(range(edges[m], edges[m + 1])) for m in range(k)]


def _widen(narrow: list[int], natural: list[int], spare: int) -> list[int]:
    """Give the spare width of the tightest part back to the columns, left first, up to their natural width."""
    widths = list(narrow)
    for i in range(len(widths)):
        extra = max(min(spare, natural[i] - widths[i]), 0)
        widths[i] += extra
        spare -= extra
    return widths


def legend_grid(items: list[tuple[str, str]]) -> Table:
    """The legend under a table: the abbreviation, then its definition (wrapped beside it)."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for term, text in items:
        grid.add_row(Text(term, style="bold"), Text(text))
    return grid


def metrics_tables(result: dict, title: str = "audit") -> list[RenderableType]:
    """Columns from the metric table. With several external judges (a mixed suite: each benchmark's scorer
    covers its own subtasks): non-unification over every subtask, then one table per judge over its
    subtasks (judges in the order of their first subtask); else one table. The legend follows the last."""
    cols = columns(result["metrics"], shown_only=True)
    judges = list(dict.fromkeys(c.judge for c in cols if c.judge))
    if len(judges) <= 1:
        tables = [metrics_table(result, cols, title + (f"; external judge: {judges[0]}" if judges else ""))]
    else:
        order = list(result["metrics"].get("non_unification", {}).get("subtasks", {}))
        first = {
            j: min(
                (order.index(s) for s in result["metrics"][_first(cols, j)]["subtasks"] if s in order),
                default=len(order),
            )
            for j in judges
        }
        tables = [metrics_table(result, [c for c in cols if not c.judge], title)]
        tables += [
            metrics_table(result, [c for c in cols if c.judge == j], f"{title}; external judge: {j}")
            for j in sorted(judges, key=first.__getitem__)
        ]
    for t in tables[:-1]:
        t.legend = []
    tables[-1].legend = legend([c.spec for c in cols])
    return tables


def _first(cols: list, judge: str) -> str:
    return next(c.key for c in cols if c.judge == judge)


def metrics_table(result: dict, cols: list | None = None, title: str = "audit") -> Fitted:
    """One row per subtask of the first column's metric (grouped by band, band rows bold) and overall."""
    metrics = result["metrics"]
    cols = columns(metrics, shown_only=True) if cols is None else cols
    some = metrics[cols[0].key] if cols else {"subtasks": {}, "bands": {}}
    bands = result.get("bands_of") or {}
    rows, ends = [], set()
    for band in BANDS:
        for s in [s for s in some["subtasks"] if bands.get(s) == band]:
            rows.append([f"  {s}", *[fmt(metrics[c.key]["subtasks"].get(s), spec=c.spec) for c in cols]])
        if band in some.get("bands", {}):
            rows.append([f"[bold]{band}[/bold]", *[fmt(metrics[c.key]["bands"].get(band), spec=c.spec) for c in cols]])
            ends.add(len(rows) - 1)
    for s in [s for s in some["subtasks"] if bands.get(s) not in BANDS]:
        rows.append([s, *[fmt(metrics[c.key]["subtasks"].get(s), spec=c.spec) for c in cols]])
    rows.append([f"[bold]{OVERALL}[/bold]", *[fmt(metrics[c.key].get("overall"), spec=c.spec) for c in cols]])
    header = [Col("subtask / band", "left")] + [Col(c.spec.abbr + arrow(c.spec)) for c in cols]
    return Fitted(f"{title} (%)", header, rows, ends=ends, legend=legend([c.spec for c in cols]))


def side_by_side(results: dict[str, dict]) -> Fitted:
    """The paper's Figure-2 table: non-unification per subtask and band, one column per run (model)."""
    groups: dict[str, str | None] = {}
    for r in results.values():
        groups.update(
            {s: (r.get("bands_of") or {}).get(s) for s in r["metrics"].get("non_unification", {}).get("subtasks", {})}
        )
    order = [s for band in BANDS for s in groups if groups[s] == band] + [s for s in groups if groups[s] not in BANDS]
    rows = []
    for group in order + [b for b in BANDS if any(groups[s] == b for s in groups)] + [OVERALL]:
        label = f"[bold]{group}[/bold]" if group in (*BANDS, OVERALL) else f"  {group}"
        rows.append([label, *[fmt(cell(r["metrics"].get("non_unification", {}), group)) for r in results.values()]])
    cols = [Col("subtask / band", "left")] + [Col(name, wrap=True) for name in results]
    spec = spec_of("non_unification")
    return Fitted("non-unification per subtask and band, one column per run (%)", cols, rows, legend=legend([spec]))


def benchmark_tables(sides: dict[str, dict], win_rate: dict | None = None) -> list[Fitted]:
    """The paper's tables: one per benchmark in the run (GenEval, T2I-CompBench, Science-T2I), a column
    per subtask and Overall, per model Gen. / Und. / Non. (analysis.table.benchmark_blocks); the legend
    follows the last."""
    from unigap.analysis.table import benchmark_blocks

    tables = []
    for block in benchmark_blocks(sides, win_rate):
        cols = [Col(h, "left" if i < 2 else "right") for i, h in enumerate(block.header)]
        ends = {i for i in range(len(block.rows)) if (i + 1) % 3 == 0}  # one section per model
        tables.append(Fitted(block.title, cols, block.rows, keys=2, ends=ends))
    if tables:
        tables[-1].legend = block_legend()
    return tables


VIEW_TITLES = {
    "base_judge_on_base_images": "base judge on base images",
    "improved_judge_on_base_images": "improved judge on base images",
    "improved_judge_on_own_images": "improved judge on its own images",
}


SELECTOR_COLS = {
    "acceptance_precision": "self_precision/{judge}",
    "rejection_precision": "weak_generation/{judge}",
    "recall": "self_recall/{judge}",
}  # the diagnostics' ratios = these metrics of the metric table
SELECTOR_LEGEND = [
    (
        "n",
        "images judged by both the self-judge and the truth judge; bands and overall pool their "
        "images (not a mean of subtasks)",
    ),
    ("accepted", "images the self-judge accepts (what SFT trains on)"),
]
AUROC = ("AUROC", "how well the self-judge's P(match) ranks right images above wrong ones, x100 (50 = chance)")


def diagnostics_tables(section: dict) -> list[Fitted]:
    """The self-judge as a selector (analysis.json "diagnostics"): one table per view and truth judge; AUROC
    left out (and said why in the legend) when no view has one."""
    from unigap.analysis.diagnostics import NO_PROBS, table_rows

    rows = table_rows(section)
    no_auroc = not any(d.get("probabilities") for by in section.get("views", {}).values() for d in by.values())
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["view"], r["truth"]), []).append(r)
    specs = [spec_of(k) for k in SELECTOR_COLS.values()]
    cols = [Col("band", "left"), Col("n"), Col("accepted")] + [Col(s.abbr + arrow(s)) for s in specs]
    cols += [] if no_auroc else [Col("AUROC ↑", wrap=True)]
    tables = []
    for (view, truth), group in groups.items():
        cells = [
            [r["band"], r["n"], r["accepted"], *[r[m] for m in SELECTOR_COLS]] + ([] if no_auroc else [r["auroc"]])
            for r in group
        ]
        title = f"the self-judge as a selector: {VIEW_TITLES.get(view, view)} ({truth} as truth, %)"
        tables.append(Fitted(title, cols, cells))
    if tables:
        auroc = (AUROC[0], f"{AUROC[1]}: {NO_PROBS}") if no_auroc else AUROC
        values, *defs = legend(specs)
        tables[-1].legend = [values, *SELECTOR_LEGEND, *defs, auroc]
    return tables


def exploitation_lines(section: dict) -> list[str]:
    """One line per truth judge and metric: the improved self-judge's drop from the base images to its own new
    images per band, in percentage points (AUROC x100); a metric with no value anywhere gives its reason once."""
    lines = []
    for truth, bands in (section.get("exploitation") or {}).items():
        for name in dict.fromkeys(m for drops in bands.values() for m in drops):
            cells = {band: drops[name] for band, drops in bands.items() if name in drops}
            title = f"exploitation ({truth} as truth), {name.replace('_', ' ')}"
            if all(c.get("value") is None for c in cells.values()):
                notes = list(dict.fromkeys(c.get("note", "n/a") for c in cells.values()))
                lines.append(f"{title}: {'; '.join(notes)}")
                continue
            parts = [
                f"{band} {100 * c['value']:+.1f}" if c.get("value") is not None else f"{band} {c.get('note', 'n/a')}"
                for band, c in cells.items()
            ]
            lines.append(f"{title}, base images minus its own new images (pp): " + ", ".join(parts))
    return lines


def win_rate_lines(analysis: dict) -> list[str]:
    """Per truth judge: the improved self-judge's win rate over the base one on the base images, and the
    kinds of its wins and losses (the paper: mostly corrected false positives)."""
    lines = []
    for truth, w in (analysis.get("win_rate") or {}).items():
        rate = w["win_rate"]
        bands = ", ".join(f"{b} {fmt(rate['bands'][b])}" for b in BANDS if b in rate.get("bands", {}))
        k, share = w.get("kinds_total", {}), w.get("fp_correction_share_of_wins")
        lines.append(
            f"win rate ({truth} as truth, improved vs base self-judge on the base images, %): overall "
            f"{fmt(rate['overall'])}" + (f"; {bands}" if bands else "")
        )
        lines.append(
            f"  {w.get('disagreements', 0)} disagreements: {k.get('fp_corrected', 0)} false positives corrected, "
            f"{k.get('fn_corrected', 0)} false negatives corrected, {k.get('new_fp', 0)} new false positives, "
            f"{k.get('new_fn', 0)} new false negatives"
            + ("" if share is None else f" ({100 * share:.0f} % of the wins are corrected false positives)")
        )
    return lines


def diagnostics_printout(analysis: dict) -> list[RenderableType]:
    section = analysis.get("diagnostics") or {}
    return [
        *map(plain, win_rate_lines(analysis)),
        *diagnostics_tables(section),
        *map(plain, exploitation_lines(section)),
    ]


def print_diagnostics(analysis: dict) -> None:
    for r in diagnostics_printout(analysis):
        out.print(r)


def plain(line: str) -> Text:
    """A line printed as is (no markup, no highlighting), wrapped at the terminal's width."""
    return Text(line)


def failure_footnote(failures: dict) -> list[str]:
    """The table's footnote: each judge with failed verdicts (and failed generations), with the first reason."""
    lines = []
    for judge, f in failures.items():
        of = f" of {f['of']}" if f.get("of") else ""
        what = "candidates could not be generated" if judge == "generation" else f"{judge} judgments failed"
        lines.append(f"* {f['failed']}{of} {what}; first reason: {f.get('first_reason')}")
    if lines:
        lines.append(
            "  (a rerun of the same command judges failed verdicts again; a dash in the table is a cell "
            "without verdicts)"
        )
    return lines


def metrics_printout(result: dict) -> list[RenderableType]:
    """What `unigap audit` and `unigap show RUN` print: the metric tables, the paper's tables, then footnotes."""
    items: list[RenderableType] = [*metrics_tables(result), *benchmark_tables({result.get("source") or "base": result})]
    for judge, c in (result.get("unparsed") or {}).items():
        if c.get("unparsed") or c.get("failed"):
            items.append(plain(f"{judge}: {c.get('unparsed', 0)} unparsed, {c.get('failed', 0)} failed"))
    items += map(plain, failure_footnote(result.get("failures") or {}))
    if result.get("counts"):
        items.append(plain("counts: " + counts_text(result["counts"])))
    return items


def counts_text(counts: dict) -> str:
    """{"prompts": 540, "candidates": {"base": 4320}} -> "540 prompts; candidates: base 4320"."""
    parts = []
    for key, v in counts.items():
        if isinstance(v, dict):
            parts.append(f"{key}: " + ", ".join(f"{k} {n}" for k, n in v.items()) if v else f"{key}: none")
        else:
            parts.append(f"{v} {key}")
    return "; ".join(parts)


def print_metrics(result: dict) -> None:
    for r in metrics_printout(result):
        out.print(r)


def before_after_table(results: dict) -> Fitted:
    """Metric by metric, one row per band: the value before and after (two columns whatever the metrics)."""
    changes = before_after_rows(results["before"]["metrics"], results["after"]["metrics"])
    rows, ends = [], set()
    for column, group in groupby(changes, key=lambda ch: ch.column):
        group = list(group)
        lines = [column.spec.abbr + arrow(column.spec)] + ([f"({column.judge})"] if column.judge else [])
        labels = lines[: len(group) - 1] + ["\n".join(lines[len(group) - 1 :])]  # the judge under the abbreviation
        labels += [""] * (len(group) - len(labels))
        rows += [
            [label, ch.group, fmt(ch.before, spec=column.spec), fmt(ch.after, spec=column.spec)]
            for ch, label in zip(group, labels)
        ]
        ends.add(len(rows) - 1)
    cols = [Col("metric", "left", wrap=True), Col("band", "left"), Col("before"), Col("after")]
    return Fitted(
        "before -> after self-improvement (eval split, %)",
        cols,
        rows,
        keys=2,
        ends=ends,
        legend=legend(list(dict.fromkeys(ch.column.spec for ch in changes))),
    )


def understand_table(rows: list[dict]) -> Fitted:
    """lmms-eval scores, base vs improved (value ± stderr), the change, and failed items."""
    cells = [
        [
            f"{r['task']}\n{r['metric']}",
            _pm(r.get("base"), r.get("base_stderr")),
            _pm(r.get("improved"), r.get("improved_stderr")),
            "—" if r.get("delta") is None else f"{r['delta']:+.3f}",
            f"{r.get('base_failed') or 0} / {r.get('improved_failed') or 0}",
        ]
        for r in rows
    ]
    cols = [Col("task\nmetric", "left", wrap=True), Col("base"), Col("improved"), Col("change"), Col("failed")]
    return Fitted(
        "understanding benchmarks (lmms-eval), base -> improved, in lmms-eval's units (not %)",
        cols,
        cells,
        legend=[("failed", "items whose answer failed (scored wrong), base / improved")],
    )


def _pm(value: float | None, stderr: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" + (f" ± {stderr:.3f}" if isinstance(stderr, (int, float)) else "")


def results_printout(results: dict, analysis: dict | None = None) -> list[RenderableType]:
    """The before/after table, the paper's table per benchmark (Und. from analysis.json's win rates), and
    the understanding benchmarks when run."""
    items: list[RenderableType] = [before_after_table(results)]
    for side in ("before", "after"):
        items += [
            plain(f"{side}: {line}" if line.startswith("*") else line)
            for line in failure_footnote(results[side].get("failures") or {})
        ]
    sides = {SOURCE_BASE: results["before"], SOURCE_IMPROVED: results["after"]}
    items += benchmark_tables(sides, (analysis or {}).get("win_rate"))
    if results.get("understand"):
        items.append(understand_table(results["understand"]))
    return items


def print_results(results: dict, analysis: dict | None = None) -> None:
    for r in results_printout(results, analysis):
        out.print(r)
