"""`unigap export geneval|t2i-compbench|hf`: a run's candidates in the official evaluators' layouts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unigap.cli._common import out
from unigap.export import ExportResult, export_geneval, export_hf, export_t2i_compbench

sub = typer.Typer(no_args_is_help=True, help="Export a run's images for the official benchmark evaluators.")

RunDir = Annotated[Path, typer.Argument(help="Run folder (holds the run store)")]
OutDir = Annotated[Path, typer.Option("--out", help="Folder to write")]
Overwrite = Annotated[bool, typer.Option(help="Replace an earlier export in --out")]


@sub.command("geneval")
def geneval(
    run_dir: RunDir,
    out_dir: OutDir,
    source: Annotated[str, typer.Option(help="Candidate source to export")] = "base",
    overwrite: Overwrite = False,
) -> None:
    """Write a run's images as GenEval's evaluate_images.py reads them (OUT/<00000>/metadata.jsonl, samples/).

    Example: unigap export geneval runs/audit --out runs/audit/geneval
    """
    _report(export_geneval(run_dir, out_dir, source, overwrite))


@sub.command("t2i-compbench")
def t2i_compbench(
    run_dir: RunDir,
    out_dir: OutDir,
    source: Annotated[str, typer.Option(help="Candidate source to export")] = "base",
    subtask: Annotated[str | None, typer.Option(help="One category (default: all in the run)")] = None,
    split: Annotated[str, typer.Option(help="Prompt split to export (eval = the val files)")] = "eval",
    overwrite: Overwrite = False,
) -> None:
    """Write a run's images in T2I-CompBench's layout (OUT/samples/<prompt>_<000000>.png; per category if several).

    Example: unigap export t2i-compbench runs/audit --out runs/audit/t2i
    """
    _report(export_t2i_compbench(run_dir, out_dir, source, subtask, split, overwrite))


@sub.command("hf")
def hf(
    run_dir: RunDir,
    out_dir: OutDir,
    source: Annotated[str | None, typer.Option(help="Candidate source (default: all)")] = None,
    overwrite: Overwrite = False,
) -> None:
    """Write a run as a `datasets` dataset (datasets.load_from_disk): one row per candidate, a verdict column per judge.

    Example: unigap export hf runs/audit --out runs/audit/hf
    """
    _report(export_hf(run_dir, out_dir, source, overwrite))


def _report(result: ExportResult) -> None:
    for note in result.notes:
        out.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    out.print(f"wrote {result.images} image(s) of {result.prompts} prompt(s) to {result.out}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(sub, name="export")
