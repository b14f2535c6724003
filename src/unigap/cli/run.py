"""`unigap run`: the embedded default end to end (audit, curate, improve, audit before/after, report)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from unigap.cli._common import AddPrompts, DryRun, Yes, out, print_config, stage_progress
from unigap.analysis.table import before_after_rows
from unigap.vocab import SOURCE_BASE, SOURCE_IMPROVED

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
    from unigap.cli.show import benchmark_tables, failure_footnote

    out.print(before_after_table(results))
    for side in ("before", "after"):
        for line in failure_footnote(results[side].get("failures") or {}):
            out.print(f"{side}: {line}" if line.startswith("*") else line, markup=False, highlight=False)
    sides = {SOURCE_BASE: results["before"], SOURCE_IMPROVED: results["after"]}
    for t in benchmark_tables(sides, (analysis or {}).get("win_rate")):
        out.print(t)
    if results.get("understand"):
        out.print(understand_table(results["understand"]))


def _analysis(run_dir: Path) -> dict | None:
    from unigap.cli._common import read_json

    path = run_dir / "analysis.json"
    return read_json(path, f"rewrite it with `unigap analyse {run_dir}`") if path.exists() else None


def run_cmd(
    config: Annotated[Optional[Path], typer.Option(help="YAML config (default: the built-in defaults, = configs/run_tiny.yaml)")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory (rerun to resume)")] = Path("runs/default"),
    overrides: Annotated[Optional[list[str]], typer.Argument(help="key=value overrides of nested keys, e.g. improve.epochs=4")] = None,
    dry_run: DryRun = False,
    add_prompts: AddPrompts = False,
    yes: Yes = False,
) -> None:
    """Self-improve a model end to end: audit, curate, train, audit again, report (resumable).

    Without arguments it runs the shipped tiny model on ShapeWorld in about a minute on a laptop CPU
    and prints a before/after table. Example: unigap run --out runs/demo self_judge.mode=prob
    """
    from unigap.config import load_config
    from unigap.pipeline.run import RunConfig, prepare_run, run_loop

    cfg = load_config(RunConfig, config, overrides or [])
    if dry_run:
        ready = prepare_run(cfg, out_dir, add_prompts, yes=True)
        print_config(cfg)
        size = len(ready.train) * cfg.n + 2 * len(ready.evals) * cfg.eval_n
        out.print(f"valid; nothing written (would run into {out_dir}: {size:,} candidates)")
        return
    with stage_progress() as bar:
        results = run_loop(cfg, out_dir, bar, log=out.print, add_prompts=add_prompts, yes=yes)
    print_results(results, _analysis(out_dir))
    out.print("stage wall times (s): " + ", ".join(f"{k} {v:.1f}" for k, v in results["stage_seconds"].items()))
    if results.get("report"):
        out.print(f"report: {results['report']}")
    out.print(f"run directory: {out_dir}")


def register(app: typer.Typer) -> None:
    app.command("run")(run_cmd)
