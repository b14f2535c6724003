"""`unigap prompts show|check`: look at prompt suites and check train/eval contamination."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from unigap.cli._common import out
from unigap.prompts.contamination import Overlaps, check_specs
from unigap.prompts.spec import load_spec

sub = typer.Typer(no_args_is_help=True, help="Prompt suites: counts and train/eval contamination.")

SPEC_HELP = "SUITE:PATH[:SPLIT] (e.g. t2i-compbench:/data/t2i:train) or a .jsonl/.csv/.txt file"


@sub.command("show")
def show(
    spec: Annotated[str, typer.Argument(help=SPEC_HELP)],
    split: Annotated[str, typer.Option(help="Split when the spec names none")] = "eval",
    subtask: Annotated[list[str] | None, typer.Option(help="Only this subtask (repeatable)")] = None,
) -> None:
    """Print the number of prompts per subtask of a suite (GenEval, T2I-CompBench, Science-T2I, paper9, ...).

    Example: unigap prompts show geneval:PATH/TO/evaluation_metadata.jsonl
    """
    with _shown_warnings():
        prompts = load_spec(spec, split, subtask)
    counts = Counter((p.suite, p.subtask, p.band or "-", p.split) for p in prompts)
    table = Table("suite", "subtask", "band", "split", "prompts")
    for (suite, subtask, band, sp), n in counts.items():
        table.add_row(suite, subtask, band, sp, str(n))
    table.add_section()
    table.add_row("total", "", "", "", str(len(prompts)))
    out.print(table)


@sub.command("check")
def check(
    train: Annotated[str, typer.Argument(help="Training prompts: " + SPEC_HELP + " (split defaults to train)")],
    eval_: Annotated[str, typer.Argument(metavar="EVAL", help="Evaluation prompts (split defaults to eval)")],
    subtask: Annotated[list[str] | None, typer.Option(help="Only this subtask, both sides (repeatable)")] = None,
    fail: Annotated[
        bool, typer.Option("--fail/--no-fail", help="Exit with status 1 when there is any overlap")
    ] = False,
) -> None:
    """List training prompts that also occur (exactly or normalised) in the evaluation prompts."""
    with _shown_warnings():
        ov = check_specs(train, eval_, subtask)
    if ov.pairs:
        out.print(_pairs_table(ov))
    out.print(
        f"train prompts: {ov.n_train}   eval prompts: {ov.n_eval}   exact overlaps: {len(ov.exact)}   "
        f"normalised-only overlaps: {len(ov.normalised)}   train prompts to drop: {len(ov.train_ids)}"
    )
    if fail and ov.pairs:
        raise typer.Exit(1)


@contextmanager
def _shown_warnings() -> Iterator[None]:
    """Print the loaders' warnings (e.g. paper9 without Science-T2I) as one plain line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        Console(stderr=True).print(f"[yellow]warning:[/yellow] {w.message}", highlight=False)


def _pairs_table(ov: Overlaps) -> Table:
    table = Table("kind", "train id", "eval id", "train prompt", "eval prompt", title="train/eval overlaps")
    for o in ov.pairs:
        table.add_row(o.kind, o.train.id, o.eval.id, o.train.text, o.eval.text if o.kind == "normalised" else "(same)")
    return table


def register(app: typer.Typer) -> None:
    app.add_typer(sub, name="prompts")
