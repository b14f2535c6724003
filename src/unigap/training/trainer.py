"""The prepared training objects: accelerate, the loss module DDP/FSDP wrap, freezing / LoRA, the optimizer.

`accelerate` does device placement, mixed precision (bf16 autocast), and multi-process training
(`accelerate launch` / `torchrun`: DDP, or FSDP from an accelerate config). `train_batch_size` is the
number of rows per micro-batch summed over all processes (each process takes every
world_size-th row of it) and an optimizer step averages the gradient over `grad_accum`
micro-batches, so a config trains the same model on 1 or N processes (up to float rounding).
Trainable components come from config (`llm` = the shared trunk, the paper's default); everything
else is frozen. With `lora:` only the LoRA adapters train.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from unigap.errors import UnigapError
from unigap.models.base import UnifiedModel, supports

if TYPE_CHECKING:
    from unigap.training.config import ImproveConfig
    from unigap.training.objectives.base import Micro

Log = Callable[[str], None]
LossFn = Callable[[UnifiedModel, "Micro"], torch.Tensor]


def freeze(model: UnifiedModel, trainable: list[str]) -> list[torch.nn.Parameter]:
    groups = model.components()
    unknown = [t for t in trainable if t not in groups and t != "all"]
    if unknown:
        raise UnigapError(f"unknown trainable component(s) {unknown}; valid: all, {', '.join(groups)}")
    for p in model.module().parameters():
        p.requires_grad_("all" in trainable)
    params = list(model.module().parameters()) if "all" in trainable else [p for t in trainable for p in groups[t]]
    for p in params:
        p.requires_grad_(True)
    return params


def lora_params(model: UnifiedModel, cfg: ImproveConfig) -> list[torch.nn.Parameter]:
    """Inject LoRA (the backend's `apply_lora`); only the adapters train."""
    if not supports(model, "apply_lora"):
        raise UnigapError(f"lora: the {model.name!r} backend has no LoRA support; remove the lora: section")
    if set(cfg.trainable) - {"llm", "lora"}:
        raise UnigapError(
            f"lora: only the LoRA adapters (on the language model) train, but trainable is "
            f"{cfg.trainable}; use trainable: [llm] with lora, or drop lora: to train {cfg.trainable}"
        )
    return model.apply_lora(**cfg.lora.model_dump())  # type: ignore[attr-defined,union-attr]


class LossModule(torch.nn.Module):
    """What accelerate prepares (and DDP / FSDP wrap): forward(micro) = this process's micro-batch loss.

    Gradient sync across processes: the backends compute log-probs by calling their own module's
    submodules, never a top-level forward, so wrapping the backend's module in DDP would never
    see a forward and never sync. This wrapper *holds* the backend's module (the very same
    parameter objects the backend uses) and runs the whole loss inside its forward. DDP hooks
    the wrapper's forward and the parameters' gradients, so backward all-reduces (averages)
    the gradients over the processes, overlapped with the backward pass, exactly as for any
    DDP model. find_unused_parameters=True, because a trainable group may hold parameters the
    image loss never touches (e.g. "all" includes the text head). Under FSDP the wrapper is the
    root unit (its forward unshards the root's parameters); the decoder layers are the inner units.
    """

    def __init__(self, model: UnifiedModel, loss_fn: LossFn) -> None:
        super().__init__()
        self.inner = model.module()
        self.backend, self.loss_fn = model, loss_fn  # not Modules: plain attributes

    def forward(self, micro: Micro) -> torch.Tensor:
        if not micro.rows:
            # This process got no rows of a short last batch: a zero loss that touches every
            # trainable parameter, so it still joins the gradient all-reduce (with zeros).
            return sum(p.sum() * 0.0 for p in self.parameters() if p.requires_grad)
        return self.loss_fn(self.backend, micro)


@dataclass
class Trainer:
    """The prepared training objects and this process's place among the processes."""

    accelerator: Any
    model: UnifiedModel
    prepared: torch.nn.Module
    opt: torch.optim.Optimizer
    params: list[torch.nn.Parameter]

    @property
    def rank(self) -> int:
        return self.accelerator.process_index

    @property
    def world(self) -> int:
        return self.accelerator.num_processes

    @property
    def main(self) -> bool:
        return self.accelerator.is_main_process

    @property
    def fsdp(self) -> bool:
        return is_fsdp(self.accelerator)

    def sync(self, last: bool) -> contextlib.AbstractContextManager:
        """DDP: skip the all-reduce on all but the last micro-batch of an accumulation window (the
        synced backward then reduces the accumulated gradients). FSDP syncs every micro-batch
        (its no_sync would keep whole unsharded gradients)."""
        if last or self.world == 1 or self.fsdp:
            return contextlib.nullcontext()
        return self.accelerator.no_sync(self.prepared)

    def global_loss(self, loss: torch.Tensor, n_local: int, n_global: int) -> float:
        """The batch's mean loss over all processes' rows (one process: the loss itself)."""
        if self.world == 1:
            return loss.item()
        part = loss.detach().float() * (n_local / n_global)
        return float(self.accelerator.reduce(part, reduction="sum").item())

    def gather(self, values: list) -> list:
        """Every process's `values`, concatenated in rank order (one process: `values`)."""
        if self.world == 1:
            return list(values)
        parts: list[Any] = [None] * self.world
        torch.distributed.all_gather_object(parts, list(values))
        return [v for p in parts for v in p]

    def clip(self, max_norm: float) -> None:
        params = list(self.prepared.parameters()) if self.fsdp else self.params
        self.accelerator.clip_grad_norm_(params, max_norm)


def is_fsdp(accelerator: Any) -> bool:
    return str(accelerator.distributed_type).endswith("FSDP")


def make_accelerator(cfg: ImproveConfig) -> Any:
    """accelerate's Accelerator; without accelerate installed, one CPU/GPU process in full precision."""
    from importlib.util import find_spec

    from unigap.training.local import LocalAccelerator, fsdp_requested, launched_distributed

    if fsdp_requested() and cfg.model.device == "cpu":
        # accelerate has no FSDP for CPU processes: its FSDP plugin raises "no available devices"
        # without a GPU, and with one it would quietly run CPU processes as DDP (docs/distributed.md).
        raise UnigapError(
            "FSDP (an accelerate config with distributed_type: FSDP) runs on GPUs: set model.device: "
            "cuda, or train on CPU processes with DDP (configs/accelerate/ddp.yaml or torchrun)"
        )
    if find_spec("accelerate") is None:
        if launched_distributed() or cfg.mixed_precision != "no":
            from unigap.errors import require

            require("accelerate", "hf", "multi-process training and mixed_precision need it")
        return LocalAccelerator(cfg.model.device)
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState
    from accelerate.utils import DistributedDataParallelKwargs

    # accelerate keeps process-wide state that refuses a second Accelerator with another precision;
    # one process may run several trainings (tests, `unigap run`). The process group is kept.
    AcceleratorState._reset_state()
    GradientState._reset_state()
    return Accelerator(
        cpu=cfg.model.device == "cpu",
        mixed_precision=cfg.mixed_precision,
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )


def on_main(accelerator: Any, fn: Callable[[], Any]) -> Any:
    """Run fn on the main process only and hand its result (or its error) to every process."""
    if accelerator.num_processes == 1:
        return fn()
    box: list[Any] = [None]
    if accelerator.is_main_process:
        try:
            box[0] = ("ok", fn())
        except Exception as err:  # noqa: BLE001 - re-raised on every process below
            box[0] = ("error", err)
    torch.distributed.broadcast_object_list(box, src=0)
    status, value = box[0]
    if status == "error":
        raise value
    return value


def prepare(
    model: UnifiedModel, cfg: ImproveConfig, adapter: dict | None, accelerator: Any, loss_fn: LossFn, log: Log
) -> Trainer:
    """Freeze (or inject LoRA and restore a saved adapter), checkpointing, accelerate, AdamW."""
    from unigap.training.commit import seed_all

    seed_all(cfg.seed)
    params = freeze(model, cfg.trainable) if cfg.lora is None else lora_params(model, cfg)
    if adapter is not None:
        missing = set(adapter) - {n for n, _ in model.module().named_parameters()}
        if missing:
            raise UnigapError(f"resume: the saved LoRA adapter has weights the model lacks: {sorted(missing)[:5]}")
        model.module().load_state_dict(adapter, strict=False)
    if cfg.gradient_checkpointing:
        if not supports(model, "enable_gradient_checkpointing"):
            log(f"gradient_checkpointing: the {model.name!r} backend does not support it; training without")
        else:
            model.enable_gradient_checkpointing()  # type: ignore[attr-defined]
    prepared = accelerator.prepare_model(LossModule(model, loss_fn), device_placement=False)
    if is_fsdp(accelerator):  # FSDP re-registers the parameters: optimise what it holds
        params = [p for p in prepared.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return Trainer(accelerator, model, prepared, opt, params)
