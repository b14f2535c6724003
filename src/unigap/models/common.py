"""Helpers the transformers-based backends (janus, showo, emu3) share."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import torch
from torch import nn

from unigap.errors import ConfigError

DTYPES = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16,
          "fp32": torch.float32, "float32": torch.float32}


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """"auto" = bf16 on CUDA (what the checkpoints ship in), fp32 elsewhere (CPU bf16 matmuls are slow)."""
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if name not in DTYPES:
        raise ConfigError(f"model.dtype: unknown dtype {name!r}; valid: auto, {', '.join(DTYPES)}")
    return DTYPES[name]


def checkpoint_layers(lm: Any) -> None:
    """transformers' non-reentrant activation checkpointing (works with frozen inputs, LoRA and DDP)."""
    kwargs = {"use_reentrant": False}
    if hasattr(lm, "activation_checkpointing_enable"):  # newer transformers (5.24), where the old name warns
        lm.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Inference in eval mode (no LoRA dropout), restoring the trainer's mode afterwards."""
    was = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was)
