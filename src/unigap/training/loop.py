"""The shared training loop: epochs of optimizer steps from the objective, the hooks around them, commits.

  for each epoch:
      for each optimizer step the objective yields (a window of micro-batches):
          loss = objective.loss(micro) + anchors.loss(micro)      inside the DDP/FSDP-wrapped forward
          backward (weighted so the gradient is the mean over the window's rows), clip, step
          objective.after_step (grpo: log, progress, commit every save_every steps)
      history; commit: weights, curriculum replay (offline objectives), state, then LATEST names it
The data-quality guard (unigap.curation.guard) runs once before training, for offline objectives.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from unigap.curation.dataset import CuratedData
from unigap.errors import UnigapError
from unigap.faults import point
from unigap.models.base import UnifiedModel, load_model
from unigap.training.checkpoint import State, commit
from unigap.training.commit import epoch_seed
from unigap.training.config import ImproveConfig
from unigap.training.curriculum import ReplaySettings, probe_acceptance, replay, should_replay
from unigap.training.objectives.base import Objective, Step
from unigap.training.trainer import Trainer

Log = Callable[[str], None]


class Progress(Protocol):
    """The stages' Bar (unigap.audit.runner.Bar); grpo also calls `update(done, stage)` where the bar has it,
    to show the step's reward in the stage's name."""

    def start(self, stage: str, total: int, done: int = 0) -> None: ...
    def advance(self, n: int) -> None: ...


@dataclass
class Context:
    """What the loop, the objective and the hooks share during one `improve`."""

    cfg: ImproveConfig
    objective: Objective
    data: CuratedData
    data_dir: Path
    out: Path
    model: UnifiedModel
    st: State
    log: Log
    run: Trainer | None = None  # set once prepared
    anchors: Any = None  # training.anchor.Anchors, or None when off
    progress: Progress | None = None
    on_batch: Callable[[int], None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def optimizer_step(ctx: Context, step: Step) -> list[float]:
    """One optimizer step over the window; returns the global loss of each micro-batch."""
    run, cfg = ctx.run, ctx.cfg
    point("improve.step", f"epoch {ctx.st.epoch + 1}")
    n_window = sum(m.n_global for m in step.micros)
    run.opt.zero_grad(set_to_none=True)
    losses = []
    for k, micro in enumerate(step.micros):
        n_local = len(micro.rows) if micro.n_local is None else micro.n_local
        with run.sync(last=k == len(step.micros) - 1):
            loss = run.prepared(micro)
            value = run.global_loss(loss, n_local, micro.n_global)
            if not math.isfinite(value):
                raise UnigapError(
                    f"non-finite {cfg.method} loss ({value}) in epoch {ctx.st.epoch + 1}, step "
                    f"{step.index + 1} ({ctx.objective.describe(micro)}); stopped, the last good "
                    "checkpoint is kept (try a lower lr)"
                )
            # Weight so that the (process-averaged) gradient is the mean over the window's rows.
            weight = n_local / n_window * run.world
            run.accelerator.backward(loss if weight == 1.0 else loss * weight)
        losses.append(value)
        if ctx.on_batch:
            ctx.on_batch(micro.n_global)
    run.clip(cfg.grad_clip)
    run.opt.step()
    return losses


def train_epoch(ctx: Context) -> float:
    """One epoch (or what is left of it after a resume); the mean (over micro-batches) of the global loss."""
    torch.manual_seed(epoch_seed(ctx.cfg.seed, ctx.st.epoch))
    partial = ctx.st.history.setdefault("partial", [])  # in the state: an epoch committed mid-way (grpo) keeps them
    ctx.run.prepared.train()
    for step in ctx.objective.steps(ctx):
        done = optimizer_step(ctx, step)
        partial += done
        if ctx.objective.after_step(ctx, step, done):  # a commit in the middle of an epoch (grpo, save_every)
            commit(ctx.run, ctx.st, ctx.cfg, ctx.out)
    losses = ctx.st.history.pop("partial")
    return float(np.mean(losses)) if losses else float("nan")


def run_epochs(ctx: Context) -> None:
    st, cfg = ctx.st, ctx.cfg
    settings = replay_settings(ctx)
    while st.epoch < cfg.epochs and not ctx.extra.get("stop"):
        loss = train_epoch(ctx)
        st.epoch, st.step = st.epoch + 1, 0
        st.history["epochs"].append({"epoch": st.epoch, "loss": loss, "examples": len(st.examples)})
        ctx.log(f"epoch {st.epoch}/{cfg.epochs}: loss {loss:.4f} ({ctx.objective.epoch_note(ctx)})")
        due = ctx.objective.offline and st.pool and cfg.curriculum.mode != "none"
        replay_hook = (lambda d: after_epoch(ctx, curriculum_model(ctx, d), settings)) if due else None
        commit(ctx.run, st, cfg, ctx.out, replay_hook)


# --- curriculum replay (paper Alg. 2): a hook of offline objectives -----------------------------


def replay_settings(ctx: Context) -> ReplaySettings:
    from unigap.models.base import default_sampling

    rule = (ctx.data.manifest.get("curate") or {}).get("rule")
    return ReplaySettings(
        ctx.cfg.seed,
        ctx.cfg.sampling or default_sampling(ctx.model),
        ctx.cfg.self_judge,
        all_accepted=rule == "all_accepted",
    )


def after_epoch(ctx: Context, model: UnifiedModel, settings: ReplaySettings) -> None:
    """Curriculum: maybe replay the discard pool with the current model.

    Every process runs it identically (same weights, per-candidate seeds), so all end with the
    same training data; no communication needed.
    """
    st, cur = ctx.st, ctx.cfg.curriculum
    if cur.mode == "adaptive" and st.pool:
        probe = [e for e in st.examples][: cur.probe_prompts]
        st.history["acceptance"].append(probe_acceptance(model, probe, settings, st.epoch))
    if not st.pool or not should_replay(cur, st.epoch, st.history["acceptance"], len(st.history["replays"])):
        return
    r = replay(model, st.pool, cur, st.epoch, settings)
    added = ctx.objective.added(ctx, r, model)
    st.examples += added
    gone = set(r.recovered)
    st.pool = [p for p in st.pool if p["prompt_id"] not in gone]
    st.history["replays"].append(r.summary())
    ctx.log(
        f"curriculum replay after epoch {st.epoch}: {len(r.recovered)} of {r.pool_before} pool prompts "
        f"recovered, {len(added)} examples added"
    )


def curriculum_model(ctx: Context, step_dir: Path) -> UnifiedModel:
    """The model the curriculum generates and judges with: the live one, or under FSDP (whose
    sharded layers cannot run the backend's decode loop) an unsharded copy of the weights just
    written, in the device's default inference dtype (bf16 on a GPU)."""
    run = ctx.run
    if not run.fsdp:
        return run.model
    return load_model(
        ctx.cfg.model.model_copy(
            update={"path": str(step_dir / "model"), "dtype": "auto", "device": str(run.accelerator.device)}
        )
    )
