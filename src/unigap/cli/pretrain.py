"""`unigap pretrain`: train the tiny unified model from scratch on ShapeWorld (resumable)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unigap.cli._common import DryRun, out, print_config, stage_progress


def pretrain_cmd(
    config: Annotated[Path, typer.Option(help="YAML config, e.g. configs/pretrain_tiny.yaml")],
    out_dir: Annotated[Path, typer.Option("--out", help="Checkpoint directory (resumes if it holds a partial run)")],
    overrides: Annotated[list[str] | None, typer.Argument(help="key=value overrides, e.g. steps=300")] = None,
    eval_prompts: Annotated[int, typer.Option(help="Eval prompts per subtask for the card (0 = skip)")] = 40,
    dry_run: DryRun = False,
) -> None:
    """Train the tiny unified model from scratch on ShapeWorld; a killed run resumes from its last checkpoint.

    Example: unigap pretrain --config configs/pretrain_tiny.yaml --out ckpt/tiny steps=300
    """
    from unigap.config import load_config
    from unigap.models.tiny.eval import record_eval_in_card
    from unigap.training.pretrain import PretrainConfig, check_pretrain, pretrain

    cfg = load_config(PretrainConfig, config, overrides or [])
    check_pretrain(cfg, out_dir)
    if dry_run:
        print_config(cfg)
        out.print(f"valid; nothing written (would pretrain into {out_dir})")
        return
    with stage_progress() as bar:
        bar.start("pretrain", cfg.steps, resumed_step(out_dir))

        def on_step(step: int, stats: dict) -> None:
            bar.update(step, f"pretrain loss {stats['loss']:.3f} (gen {stats['gen']:.3f}, und {stats['und']:.3f})")

        pretrain(cfg, out_dir, on_step)
    if eval_prompts:
        out.print(f"evaluating ({eval_prompts} prompts per subtask) for the card ...")
        record_eval_in_card(out_dir, eval_prompts)
    out.print(f"wrote {out_dir}")


def resumed_step(out_dir: Path) -> int:
    """The step a rerun resumes from (0 for a fresh start)."""
    from unigap.training.pretrain import checkpoints

    return checkpoints(out_dir).latest_step() or 0


def register(app: typer.Typer) -> None:
    app.command("pretrain")(pretrain_cmd)
