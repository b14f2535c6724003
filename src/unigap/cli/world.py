"""`unigap world show`: look at ShapeWorld renders (or a model's generations) with their prompts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unigap.cli._common import out

sub = typer.Typer(no_args_is_help=True, help="Look at the ShapeWorld world.")


@sub.command("show")
def show(
    subtask: Annotated[str, typer.Option(help="Subtask name, e.g. spatial")],
    out_path: Annotated[Path, typer.Option("--out", help="PNG grid to write")] = Path("grid.png"),
    n: Annotated[int, typer.Option(help="Number of prompts")] = 16,
    split: Annotated[str, typer.Option(help="train or eval")] = "eval",
    model: Annotated[str | None, typer.Option(help="Show this model's generations instead of renders")] = None,
    model_path: Annotated[str | None, typer.Option(help="Checkpoint for --model")] = None,
    seed: Annotated[int, typer.Option(help="Sampling / scene seed")] = 0,
) -> None:
    """Look at ShapeWorld: N prompts of a subtask rendered exactly, or a model's images with the oracle's verdict.

    Example: unigap world show --subtask physics --n 16 --model tiny --out grid.png
    """
    if model is None:
        from unigap.world.show import world_grid

        grid = world_grid(subtask, n, split, seed)
    else:
        from unigap.models.eval import generation_grid

        grid = generation_grid(subtask, n, split, model, model_path, seed)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    grid.save(out_path)
    out.print(f"wrote {out_path} ({n} images, subtask {subtask}{', model ' + model if model else ''})")


def register(app: typer.Typer) -> None:
    app.add_typer(sub, name="world")
