"""`unigap run`: the embedded default end to end (audit, curate, improve, audit before/after, report)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from unigap.cli._common import out, progress_bar
from unigap.cli.audit import RichBar
from unigap.cli.show import pct

HEADLINE = [("generation_score/oracle", "oracle gen."), ("non_unification", "non-unif."), ("self_accuracy/oracle", "self-judge acc.")]


def before_after_table(results: dict) -> Table:
    table = Table(title="before -> after self-improvement (eval split, %, 95 % CI over prompts)")
    table.add_column("band")
    for _, label in HEADLINE:
        table.add_column(f"{label} before", justify="right")
        table.add_column(f"{label} after", justify="right")
    before, after = results["before"]["metrics"], results["after"]["metrics"]
    for band in ("easy", "medium", "hard", "overall"):
        cells = []
        for key, _ in HEADLINE:
            for m in (before, after):
                e = m.get(key, {})
                cells.append(pct(e.get("overall") if band == "overall" else e.get("bands", {}).get(band)))
        table.add_row(band, *cells)
    return table


def run_cmd(
    config: Annotated[Optional[Path], typer.Option(help="YAML config (default: the built-in defaults, = configs/run_tiny.yaml)")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory (rerun to resume)")] = Path("runs/default"),
    overrides: Annotated[Optional[list[str]], typer.Argument(help="key=value overrides")] = None,
) -> None:
    """Run the whole loop on the shipped tiny model and ShapeWorld; prints a before/after table."""
    from unigap.config import load_config
    from unigap.pipeline.run import RunConfig, run_loop

    cfg = load_config(RunConfig, config, overrides or [])
    with progress_bar() as bar:
        results = run_loop(cfg, out_dir, RichBar(bar), log=out.print)
    out.print(before_after_table(results))
    out.print("stage wall times (s): " + ", ".join(f"{k} {v:.1f}" for k, v in results["stage_seconds"].items()))
    if results.get("report"):
        out.print(f"report: {results['report']}")
    out.print(f"run directory: {out_dir}")


def register(app: typer.Typer) -> None:
    app.command("run")(run_cmd)
