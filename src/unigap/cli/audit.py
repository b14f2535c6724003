"""`unigap audit` and `unigap show`: run the self-consistency audit, print its metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from unigap.cli._common import out, progress_bar
from unigap.errors import UnigapError


class RichBar:
    """Adapter from the audit's Bar protocol to one rich progress task per stage."""

    def __init__(self, progress) -> None:
        self.progress, self.task = progress, None

    def start(self, stage: str, total: int) -> None:
        self.task = self.progress.add_task(stage, total=total)

    def advance(self, n: int) -> None:
        self.progress.advance(self.task, n)


def audit_cmd(
    config: Annotated[Optional[Path], typer.Option(help="YAML config (default: the built-in defaults, = configs/audit_tiny.yaml)")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory (rerun the same command to resume)")] = Path("runs/audit"),
    overrides: Annotated[Optional[list[str]], typer.Argument(help="key=value overrides, e.g. n=4 model.batch_size=32")] = None,
) -> None:
    """Generate N candidates per prompt, self-judge and externally judge them, write metrics.json.

    Under `accelerate launch --num_processes K` (or torchrun) the prompts are sharded across the
    K processes, each writing RUN_DIR/parts/rank*.sqlite; rank 0 merges them at the end.
    """
    from unigap.audit.distributed import dist_info
    from unigap.audit.runner import AuditConfig, NoBar, run_audit
    from unigap.cli.show import print_metrics
    from unigap.config import load_config

    cfg = load_config(AuditConfig, config, overrides or [])
    if not dist_info().is_main:  # other ranks of a multi-process audit: no bars, no tables
        run_audit(cfg, out_dir, NoBar())
        return
    with progress_bar() as bar:
        metrics = run_audit(cfg, out_dir, RichBar(bar))
    print_metrics(metrics)
    out.print(f"run directory: {out_dir}")


def show_cmd(run_dir: Annotated[Path, typer.Argument(help="A run directory")]) -> None:
    """Print a run's metrics table, grouped by band, with 95 % CIs."""
    from unigap.cli.show import print_metrics

    path = run_dir / "metrics.json"
    if not path.exists():
        raise UnigapError(f"{path} not found: run `unigap audit --out {run_dir}` first")
    print_metrics(json.loads(path.read_text()))


def register(app: typer.Typer) -> None:
    app.command("audit")(audit_cmd)
    app.command("show")(show_cmd)
