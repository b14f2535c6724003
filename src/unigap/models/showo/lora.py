"""PEFT LoRA on the Show-o transformer, and the merged state dict for saving (live model untouched)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "dense")  # Phi's attention projections


def inject(phi: torch.nn.Module, r: int, alpha: float, targets: Sequence[str], dropout: float) -> Any:
    """LoRA adapters into the PhiModel in place; returns PEFT's wrapper (kept only for its API)."""
    from peft import LoraConfig, get_peft_model

    names = {n.rsplit(".", 1)[-1] for n, _ in phi.named_modules()}
    present = [t for t in targets if t in names]
    if not present:
        raise ValueError(
            f"lora: none of the target modules {list(targets)} exist in Phi; use e.g. {list(DEFAULT_TARGETS)}"
        )
    return get_peft_model(phi, LoraConfig(r=r, lora_alpha=alpha, target_modules=present, lora_dropout=dropout))


def merged_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """model.state_dict() as it would be after merge_and_unload, adapter keys dropped."""
    from peft.tuners.lora import LoraLayer

    out = {k.replace(".base_layer.", "."): v for k, v in model.state_dict().items() if ".lora_" not in k}
    with torch.no_grad():
        for name, layer in model.named_modules():
            if isinstance(layer, LoraLayer):
                base = layer.get_base_layer()
                delta = sum((layer.get_delta_weight(a) for a in layer.active_adapters), torch.zeros_like(base.weight))
                out[f"{_clean(name)}.weight"] = base.weight + delta.to(base.weight.dtype)
    return out


def _clean(name: str) -> str:
    """PEFT wraps the injected module as base_model.model.<...>: our names have no wrapper prefix."""
    return name.replace("base_model.model.", "")
