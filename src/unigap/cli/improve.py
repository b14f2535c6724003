"""`unigap improve`: SFT / DPO on curated data (curriculum replay, data-quality guard) or online GRPO."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unigap.cli._common import AllowPartial, DryRun, out, print_config, stage_progress


def improve_cmd(
    config: Annotated[Path, typer.Option(help="YAML config, e.g. configs/sft_tiny.yaml")],
    data: Annotated[Path, typer.Option(help="Curated data directory (from `unigap curate`)")],
    out_dir: Annotated[Path, typer.Option("--out", help="Checkpoint directory (rerun to resume)")],
    overrides: Annotated[list[str] | None, typer.Argument(help="key=value overrides, e.g. epochs=5")] = None,
    force: Annotated[bool, typer.Option(help="Train even if the data-quality guard fails")] = False,
    dry_run: DryRun = False,
    allow_partial: AllowPartial = False,
) -> None:
    """Self-improve a model: SFT or DPO on its own curated judgments, or GRPO with its own judge as the reward online.

    The result is OUT/model. GRPO shows the reward in the progress bar and logs each step to OUT/steps.csv.
    Example: unigap improve --config configs/sft_tiny.yaml --data runs/audit/data --out runs/sft
    Example: unigap improve --config configs/grpo_tiny.yaml --data runs/audit/data --out runs/grpo
    Multi-process (DDP, or FSDP from an accelerate config): `accelerate launch [--config_file
    configs/accelerate/ddp.yaml] -m unigap improve ...`; train_batch_size is summed over the processes.
    """
    from unigap.config import load_config
    from unigap.distributed import dist_info
    from unigap.training.improve import ImproveConfig, check_improve_inputs, improve

    cfg = load_config(ImproveConfig, config, overrides or [])
    if dry_run:
        check_improve_inputs(cfg, data, out_dir, allow_partial)
        print_config(cfg)
        out.print(f"valid; nothing written (would train into {out_dir})")
        return
    with stage_progress() as bar:
        if cfg.method == "grpo":  # one step per bar tick, the reward beside the stage's name
            history = improve(cfg, data, out_dir, force=force, log=out.print, progress=bar, allow_partial=allow_partial)
        else:
            bar.start("improve: training rows", None)
            history = improve(
                cfg, data, out_dir, force=force, log=out.print, on_batch=bar.advance, allow_partial=allow_partial
            )
    if not dist_info().is_main:  # other processes of `accelerate launch`: rank 0 reports
        return
    for r in history["replays"]:
        out.print(f"curriculum: epoch {r['epoch']} recovered {r['recovered']} of {r['pool_before']} pool prompts")
    if history.get("steps"):
        last = history["steps"][-1]
        out.print(
            f"grpo: {len(history['steps'])} steps, last reward {last['reward']:.3f} (per step: {out_dir / 'steps.csv'})"
        )
    ex = history.get("exploitation") or {}
    if ex.get("drop") is not None:
        out.print(
            f"exploitation ({ex['judge']} as truth): self-judge accuracy {ex['base']:.3f} on base images, "
            f"{ex['own']:.3f} on its own new images"
        )
    out.print(f"improved model: {out_dir / 'model'}")


def register(app: typer.Typer) -> None:
    app.command("improve")(improve_cmd)
