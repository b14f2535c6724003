"""`unigap run`: the embedded default end to end (audit, curate, improve, audit before/after, report)."""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import RenderableType

from unigap.cli._common import AddPrompts, DryRun, Yes, out, print_config, stage_progress
from unigap.analysis.table import arrow, before_after_rows, fmt, legend
from unigap.cli.show import Col, Fitted, benchmark_tables, failure_footnote, plain
from unigap.vocab import SOURCE_BASE, SOURCE_IMPROVED


def before_after_table(results: dict) -> Fitted:
    """Metric by metric, one row per band: the value before and after (two columns whatever the metrics)."""
    changes = before_after_rows(results["before"]["metrics"], results["after"]["metrics"])
    rows, ends = [], set()
    for column, group in groupby(changes, key=lambda ch: ch.column):
        group = list(group)
        lines = [column.spec.abbr + arrow(column.spec)] + ([f"({column.judge})"] if column.judge else [])
        labels = lines[:len(group) - 1] + ["\n".join(lines[len(group) - 1:])]  # the judge under the abbreviation
        labels += [""] * (len(group) - len(labels))
        rows += [[label, ch.group, fmt(ch.before, spec=column.spec), fmt(ch.after, spec=column.spec)]
                 for ch, label in zip(group, labels)]
        ends.add(len(rows) - 1)
    cols = [Col("metric", "left", wrap=True), Col("band", "left"), Col("before"), Col("after")]
    return Fitted("before -> after self-improvement (eval split, %)", cols, rows, keys=2, ends=ends,
                  legend=legend(list(dict.fromkeys(ch.column.spec for ch in changes))))


def understand_table(rows: list[dict]) -> Fitted:
    """lmms-eval scores, base vs improved (value ± stderr), the change, and failed items."""
    cells = [[f"{r['task']}\n{r['metric']}", _pm(r.get("base"), r.get("base_stderr")),
              _pm(r.get("improved"), r.get("improved_stderr")),
              "—" if r.get("delta") is None else f"{r['delta']:+.3f}",
              f"{r.get('base_failed') or 0} / {r.get('improved_failed') or 0}"] for r in rows]
    cols = [Col("task\nmetric", "left", wrap=True), Col("base"), Col("improved"), Col("change"), Col("failed")]
    return Fitted("understanding benchmarks (lmms-eval), base -> improved, in lmms-eval's units (not %)", cols, cells,
                  legend=[("failed", "items whose answer failed (scored wrong), base / improved")])


def _pm(value: float | None, stderr: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" + (f" ± {stderr:.3f}" if isinstance(stderr, (int, float)) else "")


def results_printout(results: dict, analysis: dict | None = None) -> list[RenderableType]:
    """The before/after table, the paper's table per benchmark (Und. from analysis.json's win rates), and
    the understanding benchmarks when run."""
    items: list[RenderableType] = [before_after_table(results)]
    for side in ("before", "after"):
        items += [plain(f"{side}: {line}" if line.startswith("*") else line)
                  for line in failure_footnote(results[side].get("failures") or {})]
    sides = {SOURCE_BASE: results["before"], SOURCE_IMPROVED: results["after"]}
    items += benchmark_tables(sides, (analysis or {}).get("win_rate"))
    if results.get("understand"):
        items.append(understand_table(results["understand"]))
    return items


def print_results(results: dict, analysis: dict | None = None) -> None:
    for r in results_printout(results, analysis):
        out.print(r)


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
