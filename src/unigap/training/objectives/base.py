"""What an objective is to the shared loop (training/loop.py), and the objectives registry.

The loop owns everything that is the same for every method: accelerate (DDP/FSDP, precision),
gradient accumulation and sync, clipping, freezing/LoRA, checkpoint and resume, the anchors, the
curriculum and guard hooks. An objective says which optimizer steps an epoch has (`steps`), what a
micro-batch's loss is (`loss`), and what it does around them. Third parties register one with an
entry point in the group `unigap.objectives` (the factory takes (ImproveConfig, options); its
`Options` attribute, a `unigap.config.Config`, types `improve.options`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from unigap.registry import Registry

if TYPE_CHECKING:
    from unigap.curation.dataset import CuratedData
    from unigap.models.base import UnifiedModel
    from unigap.training.config import ImproveConfig

Context = Any  # unigap.training.loop.Context (the loop imports this module, not the other way round)


@dataclass
class Micro:
    """One micro-batch: this process's rows of it (`idx`: their global indices) and any payload."""

    rows: list[dict]
    idx: list[int]
    n_global: int  # rows of the micro-batch over all processes
    key: tuple = ()  # (epoch, step, k): seeds the anchors' draws for this micro-batch
    extra: dict[str, Any] = field(default_factory=dict)
    n_local: int | None = None  # rows this process counts (None: len(rows)); 0 for FSDP's stand-in row


@dataclass
class Step:
    """One optimizer step: a gradient-accumulation window of micro-batches (`index` within the epoch)."""

    micros: list[Micro]
    index: int
    last: bool = True  # the last optimizer step on these micro-batches (grpo.inner_steps > 1 repeats a window)


class Objective:
    """Base class: an offline objective on curated rows, one pass per epoch in seeded order."""

    name = ""
    offline = True  # trains on the curated data: the curriculum replay and the data-quality guard apply

    def __init__(self, cfg: ImproveConfig, options: Any = None) -> None:
        self.cfg, self.options = cfg, options

    # --- before anything is written -------------------------------------------------------
    def check_data(self, data: CuratedData, data_dir: Any) -> None:
        """Refuse data this objective cannot train on (a DataError naming the data dir)."""

    def check_model(self, model: UnifiedModel) -> None:
        """Refuse a backend that lacks a hook this objective needs."""

    # --- the run ------------------------------------------------------------------------
    def examples(self, data: CuratedData) -> list[dict]:
        """The rows a fresh run trains on (State.examples; the curriculum appends to them)."""
        return []

    def start(self, ctx: Context) -> None:
        """A fresh run, before the first step (e.g. DPO's reference log-probs)."""

    def resume(self, ctx: Context) -> None:
        """Every run (fresh or resumed), once the model is prepared: load what the state does not hold."""

    def steps(self, ctx: Context) -> Iterator[Step]:
        """The optimizer steps of epoch ctx.st.epoch (0-based), in seeded order."""
        return row_steps(ctx)

    def loss(self, model: UnifiedModel, micro: Micro) -> torch.Tensor:
        raise NotImplementedError

    def after_step(self, ctx: Context, step: Step, losses: list[float]) -> bool:
        """After each optimizer step (grpo: log the step); True = the loop commits now (mid-epoch)."""
        return False

    def added(self, ctx: Context, replay: Any, model: UnifiedModel) -> list[dict]:
        """The rows a curriculum replay adds (offline objectives); `model` is the one that replayed."""
        return []

    def epoch_note(self, ctx: Context) -> str:
        """What the epoch's log line says after the loss."""
        return f"{len(ctx.st.examples)} examples"

    def describe(self, micro: Micro) -> str:
        """Where a micro-batch came from, for an error message."""
        ids = sorted({str(r.get("prompt_id")) for r in micro.rows})
        return f"prompts {', '.join(ids[:5])}" + (" ..." if len(ids) > 5 else "")

    def finish(self, ctx: Context) -> None:
        """After the last epoch (before the final commit)."""


def row_steps(ctx: Context) -> Iterator[Step]:
    """State.examples in a (seed, epoch) permutation, micro-batches of train_batch_size, windows of grad_accum;
    each process takes every world-th row of a micro-batch."""
    import numpy as np

    cfg, st, run = ctx.cfg, ctx.st, ctx.run
    order = np.random.default_rng([cfg.seed, st.epoch]).permutation(len(st.examples))
    micro = [order[i : i + cfg.train_batch_size].tolist() for i in range(0, len(order), cfg.train_batch_size)]
    windows = [micro[i : i + cfg.grad_accum] for i in range(0, len(micro), cfg.grad_accum)]
    for s, window in enumerate(windows):
        yield Step([micro_of(st.examples, idx, run, (st.epoch, s, k)) for k, idx in enumerate(window)], s)


def micro_of(examples: list[dict], idx: list[int], run: Any, key: tuple) -> Micro:
    """This process's rows of a micro-batch. FSDP: every unit's all-gather / reduce-scatter needs every
    process, so a process without rows of a short last batch still runs one row (counted as 0 rows).
    DDP: LossModule's zero loss for no rows suffices."""
    mine = idx[run.rank :: run.world]
    rows = mine or (idx[:1] if run.fsdp else [])
    return Micro([examples[j] for j in rows], rows, len(idx), key, n_local=len(mine))


OBJECTIVES: Registry = Registry("objective", group="unigap.objectives")
OBJECTIVES.register_lazy("sft", "unigap.training.objectives.offline:SFT")
OBJECTIVES.register_lazy("dpo", "unigap.training.objectives.offline:DPO")
OBJECTIVES.register_lazy("grpo", "unigap.training.objectives.grpo:GRPO")


def load_objective(cfg: ImproveConfig) -> Objective:
    """The configured objective with its typed options (built-ins take none: theirs are config sections)."""
    options = OBJECTIVES.validate_options(cfg.method, cfg.options, "improve.options")
    return OBJECTIVES.get(cfg.method)(cfg, options)
