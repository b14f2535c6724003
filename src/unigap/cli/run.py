"""`unigap run`: the embedded default end to end (audit, curate, improve, audit before/after, report)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unigap.cli._common import AddPrompts, DryRun, Yes, out, print_config, stage_progress


def _analysis(run_dir: Path) -> dict | None:
    from unigap.cli._common import read_json

    path = run_dir / "analysis.json"
    return read_json(path, f"rewrite it with `unigap analyse {run_dir}`") if path.exists() else None


def run_cmd(
    config: Annotated[
        Path | None, typer.Option(help="YAML config (default: the built-in defaults, = configs/run_tiny.yaml)")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory (rerun to resume)")] = Path("runs/default"),
    overrides: Annotated[
        list[str] | None, typer.Argument(help="key=value overrides of nested keys, e.g. improve.epochs=4")
    ] = None,
    dry_run: DryRun = False,
    add_prompts: AddPrompts = False,
    yes: Yes = False,
) -> None:
    """Self-improve a model end to end: audit, curate, train, audit again, report (resumable).

    Without arguments it runs the shipped tiny model on ShapeWorld in about a minute on a laptop CPU
    and prints a before/after table. Example: unigap run --out runs/demo self_judge.mode=prob
    """
    from unigap.cli.show import print_results
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
