"""Helpers shared by CLI commands: rich progress bars and tables."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Iterator

import typer

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

out = Console()


@contextmanager
def progress_bar() -> Iterator[Progress]:
    cols = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("eta"), TimeRemainingColumn()]
    with Progress(*cols, console=Console(stderr=True), transient=False) as bar:
        yield bar


def write_json(path: str | Path, data: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


DryRun = Annotated[bool, typer.Option("--dry-run", help="Validate the config and every input, print the effective config, write nothing")]


def print_config(cfg: Any, title: str = "effective config") -> None:
    """The effective config (defaults <- file <- overrides) as YAML: what the run would store."""
    from unigap.config import to_yaml

    out.print(f"# {title}")
    out.print(to_yaml(cfg), markup=False, highlight=False)
