"""`unigap plugins`: the model backends, judges, prompt suites, training objectives, rewards and
understanding sets installed, with where each comes from."""

from __future__ import annotations

import typer
from rich.table import Table

from unigap.cli._common import out


def plugins_table() -> Table:
    from unigap.judges.base import JUDGES
    from unigap.models.base import MODELS
    from unigap.prompts.base import SUITES
    from unigap.training.anchor import UND_SETS
    from unigap.training.objectives.base import OBJECTIVES
    from unigap.training.rewards import REWARDS

    table = Table(title="registered backends, judges, suites, objectives, rewards and understanding sets")
    for col in ("kind", "name", "source", "options", "status"):
        table.add_column(col)
    for reg in (MODELS, JUDGES, SUITES, OBJECTIVES, REWARDS, UND_SETS):
        for e in reg.entries():
            opts = "" if e.error else ", ".join(reg.options_class(e.name).model_fields)
            table.add_row(reg.kind, e.name, e.source, opts, f"[red]import failed: {e.error}[/red]" if e.error else "ok")
    return table


def plugins_cmd() -> None:
    """List what `model.name`, `judges[].name`, `prompts.suite`, `improve.method`, `improve.grpo.rewards[].name`
    and `improve.anchor.replay.set` accept, built in or from installed plugins.

    Plugins register through the entry-point groups unigap.models, unigap.judges, unigap.suites,
    unigap.objectives, unigap.rewards and unigap.understanding_sets (docs/backends.md, docs/grpo.md).
    Example: unigap plugins
    """
    out.print(plugins_table())


def register(app: typer.Typer) -> None:
    app.command("plugins")(plugins_cmd)
