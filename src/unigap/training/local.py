"""A one-process stand-in for `accelerate.Accelerator`, so the core install trains the tiny model.

It implements exactly the calls `improve` makes (device, backward, clipping, no-op collectives).
Multi-process training and bf16 autocast need accelerate (`pip install 'unigap[hf]'`).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import torch


def launched_distributed() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def fsdp_requested() -> bool:
    """`accelerate launch` with an FSDP config (distributed_type: FSDP) sets ACCELERATE_USE_FSDP=true."""
    return os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true"


class LocalAccelerator:
    is_main_process = True
    num_processes = 1
    process_index = 0
    distributed_type = "NO"

    def __init__(self, device: str) -> None:
        self.device = torch.device(device)

    def wait_for_everyone(self) -> None:
        pass

    def prepare_model(self, model: torch.nn.Module, device_placement: bool = False) -> torch.nn.Module:
        return model

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def clip_grad_norm_(self, params: Any, max_norm: float) -> torch.Tensor:
        return torch.nn.utils.clip_grad_norm_(params, max_norm)

    def no_sync(self, model: torch.nn.Module) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def reduce(self, tensor: torch.Tensor, reduction: str = "sum") -> torch.Tensor:
        return tensor

    def get_state_dict(self, model: torch.nn.Module) -> dict[str, torch.Tensor]:
        return model.state_dict()
