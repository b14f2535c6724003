"""`unigap report RUN_DIR`: one self-contained report.html from the stored run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from unigap.cli._common import out


def report_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory")],
    out_path: Annotated[Optional[Path], typer.Option("--out", help="Where to write (default RUN_DIR/report.html)")] = None,
) -> None:
    """Write a self-contained report.html to send to a colleague (reads analysis.json and the store; runs no model).

    Example: unigap report runs/default
    """
    from unigap.report.render import render_report

    out.print(f"wrote {render_report(run_dir, out_path)}")


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)
