"""Every table the CLI prints fits an 80-column terminal (and a 120-column one) with its headers whole: no line
wider than the terminal, no ellipsis, every word of every header and legend term printed."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from tests.cli import _printouts as P
from unigap.cli.agree import pairs_table
from unigap.cli.model import eval_table
from unigap.cli.show import (
    Col,
    Fitted,
    before_after_table,
    diagnostics_printout,
    metrics_printout,
    results_printout,
    side_by_side,
)
from unigap.cli.understand import scores_table

PRINTOUTS = {
    "run, ShapeWorld": lambda: results_printout(*P.run_results()),
    "run, the paper's nine subtasks (per-benchmark tables)": lambda: results_printout(*P.run_results(mixed=True)),
    "run, a long judge name": lambda: [
        before_after_table(
            {side: P.shapeworld_result(i, judge=P.LONG_JUDGE) for i, side in enumerate(("before", "after"))}
        )
    ],
    "audit / show RUN, ShapeWorld": lambda: metrics_printout(P.shapeworld_result()),
    "audit / show RUN, a long judge name": lambda: metrics_printout(P.shapeworld_result(judge=P.LONG_JUDGE)),
    "audit / show RUN, the paper's nine subtasks": lambda: metrics_printout(P.mixed_result()),
    "show RUN, the self-judge as a selector (parse mode)": lambda: diagnostics_printout(P.run_results()[1]),
    "show RUN, the self-judge as a selector (prob mode)": lambda: diagnostics_printout(P.run_results(mixed=True)[1]),
    "show RUN RUN ...": lambda: [side_by_side(P.several_runs())],
    "model eval": lambda: [eval_table(P.eval_result())],
    "agree": lambda: [pairs_table(P.pairs(), 1000)],
    "understand": lambda: [scores_table(P.understand_result())],
}


def render(items: list, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None, legacy_windows=False)
    for item in items:
        console.print(item)
    return console.file.getvalue()


def words(items: list) -> set[str]:
    """Every word of every column header and legend term of the printout's tables."""
    out = set()
    for item in items:
        if isinstance(item, Fitted):
            out |= {w for c in item.cols for w in c.header.split()} | {w for t, _ in item.legend for w in t.split()}
    return out


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("name", list(PRINTOUTS))
def test_every_printout_fits_the_terminal_with_whole_headers(name, width):
    items = PRINTOUTS[name]()
    text = render(items, width)
    lines = text.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= width
    assert "…" not in text
    missing = [w for w in words(items) if w not in text]
    assert not missing, missing
    assert any(line.startswith("┏") for line in lines)


def test_wide_tables_split_into_even_parts_with_the_row_labels_repeated():
    cols = [Col("subtask", "left")] + [Col(f"metric {i}") for i in range(5)]
    rows = [[f"subtask {r}", *[f"{r}.0 [0.0, 100.0]" for _ in range(5)]] for r in range(3)]
    table = Fitted("five metrics", cols, rows)
    parts, widths = table.parts(80)
    assert [len(p) for p in parts] == [4, 3] and all(p[0] == 0 for p in parts)  # 3 + 2 metrics, not 3 + 1 + 1
    assert all(sum(widths[i] + 3 for i in p) + 1 <= 80 for p in parts)
    assert table.parts(200) == ([list(range(6))], table.widths()[0])  # room for all: one table, nothing wrapped
    text = render([table], 80)
    assert text.count("subtask 2") == 2 and text.count("┏") == 2


def test_before_after_is_metric_by_metric_with_the_judge_under_its_abbreviation():
    results, _ = P.run_results()
    text = render([before_after_table(results)], 80)
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in text.splitlines() if line.startswith("│")]
    assert rows[0][:2] == ["Non. ↓", "easy"] and rows[3][:2] == ["", "overall"]
    assert rows[4][:2] == ["Ext. gen. ↑", "easy"] and rows[5][:2] == ["(oracle)", "medium"]
    assert "Non.      non-unification: share of a model's own images" in text  # the legend, from the metric table
