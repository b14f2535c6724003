"""`unigap audit` and `unigap show`: run the self-consistency audit, print its metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unigap.cli._common import (
    AddPrompts,
    DryRun,
    Yes,
    out,
    print_config,
    read_json,
    stage_progress,  # noqa: F401  (RichBar: re-exported)
)
from unigap.errors import UnigapError


def audit_cmd(
    config: Annotated[
        Path | None, typer.Option(help="YAML config (default: the built-in defaults, = configs/audit_tiny.yaml)")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory (rerun the same command to resume)")] = Path(
        "runs/audit"
    ),
    overrides: Annotated[
        list[str] | None, typer.Argument(help="key=value overrides, e.g. n=4 model.batch_size=32")
    ] = None,
    dry_run: DryRun = False,
    add_prompts: AddPrompts = False,
    yes: Yes = False,
) -> None:
    """Measure a model's non-unification: N candidates per prompt, judged by the model itself and by external judges.

    Writes RUN/run.sqlite, the PNGs and metrics.json, and prints the table per subtask and band.
    Example: unigap audit --config configs/audit_tiny.yaml --out runs/audit n=4
    Under `accelerate launch --num_processes K` (or torchrun) the prompts are sharded across the K processes.
    """
    from unigap.audit.runner import AuditConfig, NoBar, prepare_audit, run_audit
    from unigap.cli.show import print_metrics
    from unigap.config import load_config
    from unigap.distributed import dist_info

    cfg = load_config(AuditConfig, config, overrides or [])
    if dry_run:
        from unigap.audit.runner import check_job_size

        prompts, model, _ = prepare_audit(cfg, out_dir, add_prompts=add_prompts, yes=True)
        print_config(cfg)
        size = check_job_size(
            len(prompts) * cfg.n, f"{len(prompts)} prompts x n={cfg.n}", model, prompts[0].text, cfg.sampling, yes=True
        )
        if size:
            out.print(f"{size}; the run needs --yes", markup=False, highlight=False)
        out.print(
            f"valid; nothing written (would audit {len(prompts)} prompts x n={cfg.n} = "
            f"{len(prompts) * cfg.n:,} candidates into {out_dir})"
        )
        return
    if not dist_info().is_main:  # other ranks of a multi-process audit: no bars, no tables
        run_audit(cfg, out_dir, NoBar(), add_prompts=add_prompts)
        return
    with stage_progress() as bar:
        metrics = run_audit(cfg, out_dir, bar, add_prompts=add_prompts, yes=yes)
    print_metrics(metrics)
    out.print(f"run directory: {out_dir}")


def show_cmd(run_dirs: Annotated[list[Path], typer.Argument(help="One run directory, or several to compare")]) -> None:
    """Print a run's metrics per subtask and band with 95 % CIs; with several runs, their non-unification side by side.

    Example: unigap show runs/audit    |    unigap show runs/tiny runs/janus runs/emu3
    """
    from unigap.cli.show import print_diagnostics, print_metrics, side_by_side

    if len(run_dirs) == 1 and not (run_dirs[0] / "metrics.json").exists() and (run_dirs[0] / "results.json").exists():
        return _show_run(run_dirs[0])  # a `unigap run` directory: before -> after
    results = {}
    for run_dir in run_dirs:
        path = run_dir / "metrics.json"
        if not path.exists():
            raise UnigapError(f"{path} not found: run `unigap audit --out {run_dir}` first")
        results[_run_label(run_dir, results)] = read_json(path, f"rewrite it with `unigap audit --out {run_dir}`")
    if len(results) == 1:
        print_metrics(next(iter(results.values())))
        analysis = run_dirs[0] / "analysis.json"
        if analysis.exists():  # a finished `unigap run`: the self-judge as a selector
            print_diagnostics(read_json(analysis, f"rewrite it with `unigap analyse {run_dirs[0]}`"))
    else:
        out.print(side_by_side(results))


def _show_run(run_dir: Path) -> None:
    from unigap.cli.show import print_diagnostics, print_results

    path = run_dir / "analysis.json"
    analysis = read_json(path, f"rewrite it with `unigap analyse {run_dir}`") if path.exists() else None
    print_results(read_json(run_dir / "results.json", f"rewrite it with `unigap run --out {run_dir}`"), analysis)
    if analysis is not None:
        print_diagnostics(analysis)


def _run_label(run_dir: Path, taken: dict) -> str:
    label = run_dir.name or str(run_dir)
    return label if label not in taken else str(run_dir)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit_cmd)
    app.command("show")(show_cmd)
