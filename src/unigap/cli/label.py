"""`unigap label RUN_DIR`: label candidates by hand in a local web page; `unigap label export|import` for CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from unigap.cli._common import out

SERVE = "serve"


class DefaultServeGroup(TyperGroup):
    """A group whose default command is `serve`: `unigap label RUN_DIR` = `unigap label serve RUN_DIR`.

    Click parses a group's own arguments before choosing the subcommand, so a positional RUN_DIR on
    the group would swallow "export". Instead anything that is not a subcommand name or --help is
    handed to `serve` (a run dir literally named "export" can be given as ./export).
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [SERVE, *args]
        return super().parse_args(ctx, args)


label_app = typer.Typer(
    cls=DefaultServeGroup,
    no_args_is_help=True,
    add_completion=False,
    help="Label candidates by hand (stored as judge human:<name>); export/import labels as CSV.",
)

RunDir = Annotated[Path, typer.Argument(help="A run directory with candidates (run.sqlite)")]
Sample = Annotated[
    int | None,
    typer.Option("--sample", "-k", min=1, help="Label a seeded random sample of K candidates (default: all)"),
]
Seed = Annotated[int, typer.Option(help="Seed of the sample (the same seed gives the same sample and order)")]
Source = Annotated[str | None, typer.Option(help="Only candidates of this source, e.g. base (default: all)")]


def _announce(url: str, session: Any) -> None:
    # Plain print, flushed: rich would wrap the long URL, and a pipe would hold it back.
    print(f"labelling {len(session.order)} candidates as {session.judge}", flush=True)
    print(f"open {url}", flush=True)
    print("Ctrl-C stops the server; every label is already stored.", flush=True)


@label_app.command(SERVE)
def serve_cmd(
    run_dir: RunDir,
    sample: Sample = None,
    seed: Seed = 0,
    source: Source = None,
    name: Annotated[
        str | None, typer.Option(help="Your name; labels are stored as judge human:<name> (default: login name)")
    ] = None,
    show_judges: Annotated[
        bool, typer.Option("--show-judges/--judge-blind", help="Show the other judges' verdicts (hidden by default)")
    ] = False,
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (default: a free one)")] = 0,
) -> None:
    """Label a run's candidates by hand in your browser, one key per label (127.0.0.1, a one-time token).

    Example: unigap label runs/audit --name alice --sample 200
    """
    from unigap.label.app import serve
    from unigap.label.sampling import default_name

    final = serve(run_dir, name or default_name(), sample, seed, source, show_judges, port, announce=_announce)
    out.print(
        f"stopped: {final['done']} / {final['total']} labelled as {final['judge']}, stored in {run_dir}",
        highlight=False,
    )


@label_app.command("export")
def export_cmd(
    run_dir: RunDir,
    csv: Annotated[Path, typer.Option("--csv", help="CSV file to write")],
    sample: Sample = None,
    seed: Seed = 0,
    source: Source = None,
) -> None:
    """Write candidates (id, prompt, subtask, image path, existing human labels, empty label column) as CSV."""
    from unigap.label.csvio import export_csv

    n = export_csv(run_dir, csv, sample, seed, source)
    out.print(f"wrote {n} rows to {csv}; fill the label column with 1, 0 or leave it blank", highlight=False)


@label_app.command("import")
def import_cmd(
    run_dir: RunDir,
    csv: Annotated[Path, typer.Option("--csv", help="CSV file with candidate_id and label columns")],
    name: Annotated[str, typer.Option(help="Whose labels these are; stored as judge human:<name>")],
    replace: Annotated[bool, typer.Option(help="Overwrite labels already stored for this name")] = False,
) -> None:
    """Import labels from CSV: every row is checked first and nothing is stored if any row is bad."""
    from unigap.label.csvio import import_csv

    res = import_csv(run_dir, csv, name, replace)
    out.print(
        f"{res['judge']}: imported {res['imported']} labels ({res['unchanged']} already stored, "
        f"{res['blank']} blank rows skipped)",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(label_app, name="label")
