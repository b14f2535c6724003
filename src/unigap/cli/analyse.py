"""`unigap analyse RUN_DIR`: write analysis.json (metrics, win rate, curriculum, guard, eNTK)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unigap.cli._common import AllowPartial, out


def analyse_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory from `unigap run`")],
    entk_samples: Annotated[int, typer.Option(help="Training samples for the eNTK kernel (0 = skip)")] = 48,
    seed: Annotated[int, typer.Option(help="Bootstrap / sampling seed", min=0)] = 0,
    allow_partial: AllowPartial = False,
) -> None:
    """Compute every analysis of a run (before/after metrics, win rate, diagnostics, guard, eNTK) into analysis.json.

    Example: unigap analyse runs/default
    """
    from rich.markup import escape

    from unigap.pipeline.analyse import analyse

    result = analyse(run_dir, seed=seed, entk_samples=entk_samples, allow_partial=allow_partial)
    for name, section in result.items():
        if isinstance(section, dict) and "missing" in section:
            hint = f" ({section['command']})" if section.get("command") else ""
            out.print(f"[yellow]{name}[/yellow]: {escape(str(section['missing']))}{escape(hint)}")
    out.print(f"wrote {run_dir / 'analysis.json'}")


def analyze_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory from `unigap run`")],
    entk_samples: Annotated[int, typer.Option(help="Training samples for the eNTK kernel (0 = skip)")] = 48,
    seed: Annotated[int, typer.Option(help="Bootstrap / sampling seed", min=0)] = 0,
    allow_partial: AllowPartial = False,
) -> None:
    """`unigap analyze`: the same command, spelled as unigap spells it (`analyse`, like `analysis.json`)."""
    typer.echo("note: unigap spells this command `unigap analyse` (like analysis.json); running it", err=True)
    analyse_cmd(run_dir, entk_samples, seed, allow_partial)


def register(app: typer.Typer) -> None:
    app.command("analyse")(analyse_cmd)
    app.command("analyze", hidden=True)(analyze_cmd)
