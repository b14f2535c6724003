"""Measure and close the generation-understanding gap of unified multimodal models.

Commands only parse options and call one library function; errors derived from
`UnigapError` are printed without a traceback and exit with status 2. Each module in
COMMAND_MODULES has `register(app)`.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from pathlib import Path

import typer
from rich.console import Console

from unigap.errors import UnigapError

HELP = """Measure and close the generation-understanding gap of unified multimodal models
(Han et al., arXiv 2507.16663).

Start with `unigap run` (the whole loop on the shipped tiny model, about a minute on a laptop CPU),
then `unigap show runs/default` and open runs/default/report.html."""
app = typer.Typer(no_args_is_help=True, add_completion=False, help=HELP)
console = Console(stderr=True)

# Modules that define commands; each has `register(app)`. Missing ones are skipped so that
# partially installed extras never break the core CLI.
COMMAND_MODULES = [
    "world",
    "model",
    "pretrain",
    "audit",
    "curate",
    "improve",
    "run",
    "analyse",
    "report",
    "prompts",
    "export",
    "agree",
    "label",
    "plugins",
    "judge",
    "understand",
]

_registered = False


def _register_all() -> None:
    global _registered
    if _registered:
        return
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"unigap.cli.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"unigap.cli.{name}":
                continue
            raise
        module.register(app)
    _registered = True


def get_app() -> typer.Typer:
    _register_all()
    return app


def show_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int, file=None, line=None
) -> None:
    """unigap's own warnings (a renamed key, a partial suite) as one line, without unigap's source line."""
    if category is FutureWarning or "unigap" in Path(filename).parts:
        from rich.markup import escape

        console.print(f"[yellow]warning:[/yellow] {escape(str(message))}", markup=True, highlight=False)
    else:
        _default_show(message, category, filename, lineno, file, line)


_default_show = warnings.showwarning


def main() -> None:
    _register_all()
    warnings.showwarning = show_warning
    try:
        app(standalone_mode=False)
    except UnigapError as err:
        from rich.markup import escape

        console.print(f"[red]error:[/red] {escape(str(err))}", markup=True, highlight=False)
        sys.exit(2)
    except typer.Exit as err:
        sys.exit(err.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        console.print("aborted")
        sys.exit(130)
    except Exception as err:  # click usage errors arrive here in non-standalone mode
        if callable(getattr(err, "show", None)) and isinstance(
            getattr(err, "exit_code", None), int
        ):  # click's (or typer's vendored click's) usage errors
            err.show()
            sys.exit(err.exit_code)
        raise
