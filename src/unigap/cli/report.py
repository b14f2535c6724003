"""`unigap report RUN_DIR`: one self-contained report.html from the stored run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unigap.cli._common import AllowPartial, out
from unigap.errors import UnigapError


def report_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory")],
    out_path: Annotated[Path | None, typer.Option("--out", help="Where to write (default RUN_DIR/report.html)")] = None,
    allow_partial: AllowPartial = False,
) -> None:
    """Write a self-contained report.html to send to a colleague (reads analysis.json and the store; runs no model).

    The run dir is only read: a read-only run works with --out elsewhere.
    Example: unigap report runs/default
    """
    from unigap.report.render import render_report

    check_finished(run_dir, allow_partial, "report")
    target = out_path or run_dir / "report.html"
    if target.exists() and target.is_dir():
        raise UnigapError(f"--out {target} is a directory; give a file name, e.g. {target / 'report.html'}")
    out.print(f"wrote {render_report(run_dir, out_path)}")


def check_finished(run_dir: Path, allow_partial: bool, consumer: str) -> None:
    """A run whose stages did not finish is refused (what is missing, the command that finishes it)."""
    from unigap.store import DB_NAME, RunStore
    from unigap.store.complete import require_finished_run

    if not (run_dir / DB_NAME).is_file():
        raise UnigapError(f"{run_dir} is not a run directory (no {DB_NAME})")
    with RunStore.open_readonly(run_dir) as store:
        gaps = require_finished_run(store, run_dir, allow_partial, consumer)
    if gaps:
        out.print(f"[yellow]partial run:[/yellow] {'; '.join(gaps)}")


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)
