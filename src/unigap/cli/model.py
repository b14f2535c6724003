"""`unigap model eval|synthetic`: inspect a model, or write a random checkpoint of any backend."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unigap.cli._common import out, progress_bar, write_json
from unigap.cli.show import Col, Fitted

sub = typer.Typer(no_args_is_help=True, help="Inspect a model.")


def eval_table(result: dict) -> Fitted:
    """Per subtask, band and overall: the oracle's accuracy on the model's images and the model's accuracy on
    rendered scenes, in % with one decimal."""

    def row(label: str, band: str, r: dict) -> list[str]:
        return [
            label,
            band,
            f"{100 * r['generation_accuracy']:.1f}",
            f"{100 * r['understanding_accuracy']:.1f}",
            str(r["n"]),
        ]

    rows = [row(name, r["band"], r) for name, r in result["subtasks"].items()]
    rows += [row(f"[bold]{band}[/bold]", "band", r) for band, r in result["bands"].items()]
    rows.append(row("[bold]overall[/bold]", "", result["overall"]))
    cols = [Col("subtask", "left"), Col("band", "left"), Col("generation"), Col("understanding"), Col("n")]
    legend = [
        ("generation", "share of the model's images the oracle accepts (one image per prompt)"),
        ("understanding", "share of rendered scenes the model judges right (the paper's question)"),
        ("n", "eval prompts; bands and overall are unweighted means of their subtasks"),
    ]
    return Fitted("generation vs understanding (oracle-scored, %)", cols, rows, legend=legend)


@sub.command("eval")
def eval_cmd(
    model: Annotated[str, typer.Option(help="Model registry name")] = "tiny",
    path: Annotated[str | None, typer.Option(help="Checkpoint (default: the shipped one)")] = None,
    prompts_per_subtask: Annotated[int, typer.Option(help="Eval prompts per subtask (K)")] = 40,
    seed: Annotated[int, typer.Option(help="Sampling seed")] = 0,
    cfg_scale: Annotated[float | None, typer.Option(help="CFG scale (default: the model's)")] = None,
    subtask: Annotated[list[str] | None, typer.Option(help="Only these subtasks (repeatable)")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the result JSON here")] = None,
) -> None:
    """Generate one image per eval prompt (oracle-scored) and ask the paper's question about renders."""
    from unigap.models.base import ModelConfig, default_sampling, load_model
    from unigap.models.eval import evaluate
    from unigap.world import check_subtask

    for s in subtask or []:
        check_subtask(s)
    backend = load_model(ModelConfig(name=model, path=path))
    sampling = default_sampling(backend).model_copy(update={"cfg_scale": cfg_scale} if cfg_scale else {})
    names = subtask or None
    with progress_bar() as bar:
        task = bar.add_task("model eval", total=prompts_per_subtask * (len(names) if names else 9))
        result = evaluate(backend, prompts_per_subtask, seed, names, sampling, lambda _, n: bar.advance(task, n))
    out.print(eval_table(result))
    if json_path:
        write_json(json_path, result)
        out.print(f"wrote {json_path}")


@sub.command("synthetic")
def synthetic_cmd(
    name: Annotated[str, typer.Argument(help="Backend name (see `unigap plugins`)")],
    out_dir: Annotated[Path, typer.Option("--out", help="Checkpoint directory to write")],
    size: Annotated[str, typer.Option(help="tiny (seconds, CI-sized) or a backend's real-size preset")] = "tiny",
    seed: Annotated[int, typer.Option(help="Seed of the random weights")] = 0,
) -> None:
    """Write a random-weight checkpoint of a backend that its real loader opens, to try the loop without weights.

    Example: unigap model synthetic janus --out ckpt/janus && unigap audit model.name=janus model.path=ckpt/janus
    """
    from unigap.errors import UnigapError
    from unigap.models.base import MODELS

    writer = MODELS.extra(name, "synthetic")
    if writer is None:
        raise UnigapError(f"backend {name!r} has no synthetic checkpoint writer")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise UnigapError(f"{out_dir} exists and is not an empty directory; choose a new --out")
    path = writer(out_dir, size=size, seed=seed)
    out.print(f"wrote a random {name} checkpoint ({size}) to {path}; use it with model.name={name} model.path={path}")


def register(app: typer.Typer) -> None:
    app.add_typer(sub, name="model")
