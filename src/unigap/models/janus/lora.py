"""LoRA on the Janus language model (PEFT) and saving with the adapters merged.

The functions take what they use (the JanusForConditionalGeneration module, its processor, the
PEFT wrapper, a path), not the backend. Merging for `save_model` does not touch the live model:
each LoRA layer's merged weight is computed as base + delta into the saved state dict, so
training can continue after a checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")


def apply_lora(
    model: torch.nn.Module,
    r: int = 16,
    alpha: float = 32,
    target_modules: Sequence[str] = DEFAULT_TARGETS,
    dropout: float = 0.0,
) -> tuple[Any, list[torch.nn.Parameter]]:
    """Inject LoRA into `model`'s language model only (a JanusForConditionalGeneration); freeze every
    other weight. Returns (the PEFT wrapper, the LoRA params)."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=r, lora_alpha=alpha, target_modules=list(target_modules), lora_dropout=dropout)
    # get_peft_model injects the adapters in place, so the Janus module tree (and our decoder, which
    # calls the projection modules) sees them; the returned wrapper is kept only for PEFT's API.
    peft = get_peft_model(model.model.language_model, config)
    for name, p in model.named_parameters():
        p.requires_grad_("lora_" in name)
    return peft, [p for p in model.parameters() if p.requires_grad]


def _lora_layers(model: torch.nn.Module) -> dict[str, Any]:
    from peft.tuners.lora import LoraLayer

    return {name: mod for name, mod in model.named_modules() if isinstance(mod, LoraLayer)}


def merged_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict the model would have after merge_and_unload, without modifying it."""
    layers = _lora_layers(model)
    out = {k: v for k, v in model.state_dict().items() if ".lora_" not in k and ".base_layer." not in k}
    with torch.no_grad():
        for name, layer in layers.items():
            base = layer.get_base_layer()
            delta = sum((layer.get_delta_weight(a) for a in layer.active_adapters), torch.zeros_like(base.weight))
            out[f"{name}.weight"] = base.weight + delta.to(base.weight.dtype)
            if getattr(base, "bias", None) is not None:
                out[f"{name}.bias"] = base.bias
    return out


def save_model(
    model: torch.nn.Module,
    processor: Any,
    path: Path,
    peft: Any = None,
    merge_lora: bool = True,
    state_dict: dict[str, torch.Tensor] | None = None,
) -> None:
    """`model`'s weights (LoRA merged) + `processor` + generation config, loadable with from_pretrained.

    peft: the wrapper `apply_lora` returned (None: no LoRA). state_dict: the weights to write
    (without LoRA; e.g. gathered from FSDP shards) instead of the live module's.
    """
    if state_dict is not None:
        if peft is not None:
            raise ValueError("save_model: an explicit state_dict cannot be combined with LoRA")
        state = state_dict
    elif peft is not None and not merge_lora:
        # Adapter-only save next to nothing else would not reload with from_pretrained: be explicit.
        peft.save_pretrained(path / "lora_adapter")
        state = {k: v for k, v in model.state_dict().items() if ".lora_" not in k}
        state = {k.replace(".base_layer.", "."): v for k, v in state.items()}
    else:
        state = merged_state_dict(model) if peft is not None else None
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path, state_dict=state)
    processor.save_pretrained(path)
