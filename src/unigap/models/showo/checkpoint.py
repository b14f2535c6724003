"""The Show-o loader: a checkpoint directory read into the backend's parts (loading.py does the checks), and
a backend's weights written back in the same layout. It knows the backend only by what it saves (`Saved`):
backend.py builds a ShowoBackend from `load_checkpoint`'s parts, never the other way round."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import torch

from unigap.errors import CheckpointError
from unigap.models.base import ModelConfig
from unigap.models.showo.loading import (
    DEFAULT_PATH,
    DEFAULT_VQ,
    SAVED_WEIGHTS,
    SHOWO_KEYMAP,
    VQ_KEYMAP,
    ShowoConfig,
    check_consistency,
    check_keys,
    load_tokenizer,
    local_dir,
    map_keys,
    read_json,
    read_showo_config,
    read_vq_dims,
    read_weights,
    resolve_dtype,
    unmap_key,
)
from unigap.models.showo.magvit import MagvitDims, MagvitV2
from unigap.models.showo.model import ShowoModel, phi_config
from unigap.models.showo.options import ShowoOptions
from unigap.models.showo.prompting import NUM_NEW_SPECIAL, Layout


class Saved(Protocol):
    """What `save_checkpoint` reads of a backend (a ShowoBackend)."""

    model: ShowoModel
    layout: Layout
    cfg: ShowoConfig
    llm_raw: dict[str, Any]
    peft: Any  # the PEFT wrapper once LoRA is applied, else None


def build_model(llm_raw: dict[str, Any], vocab_size: int, dims: MagvitDims, meta: bool = False) -> ShowoModel:
    """Random-init ShowoModel; meta=True leaves the LLM's weights unallocated (to be assigned)."""
    from transformers import PhiForCausalLM

    cfg = phi_config(llm_raw, vocab_size)
    with torch.device("meta" if meta else "cpu"):
        llm = PhiForCausalLM(cfg)
    return ShowoModel(llm, MagvitV2(dims))


def _restore_rotary(model: ShowoModel) -> None:
    """Non-persistent RoPE buffers are not in any checkpoint: rebuild them off the meta device."""
    rot = model.llm.model.rotary_emb
    model.llm.model.rotary_emb = type(rot)(config=model.llm.config)


def load_checkpoint(cfg: ModelConfig, options: ShowoOptions) -> tuple[ShowoModel, Layout, ShowoConfig, dict[str, Any]]:
    """(model on cfg.device in eval mode, layout, config, extra): ShowoBackend's arguments but `options`."""
    path = cfg.path or DEFAULT_PATH
    d = local_dir(path)
    scfg = read_showo_config(d)
    llm_dir = local_dir(options.llm_path or scfg.llm_path, base=d)
    llm_raw = read_json(llm_dir / "config.json")
    vq_dir = (
        local_dir(options.vq_path) if options.vq_path else (d / "vq" if (d / "vq").is_dir() else local_dir(DEFAULT_VQ))
    )
    dims = read_vq_dims(vq_dir)
    tok = load_tokenizer(llm_dir)
    side = check_consistency(scfg, dims, tok, options.resolution, str(d))
    model = build_model(llm_raw, scfg.vocab_size, dims, meta=True)
    state = map_keys(read_weights(d), SHOWO_KEYMAP) | map_keys(read_weights(vq_dir), VQ_KEYMAP)
    check_keys(model.state_dict(), state, f"{d} (+ {vq_dir})")
    model.load_state_dict(state, strict=False, assign=True)
    _restore_rotary(model)
    device = torch.device(cfg.device)
    model = model.to(device=device, dtype=resolve_dtype(cfg.dtype, device)).eval()
    model.vq.quantize.to(device)  # buffers keep their exact values (embedding +-1, power_vals int)
    layout = Layout(
        tok, scfg.llm_vocab_size + NUM_NEW_SPECIAL, scfg.codebook_size, scfg.num_vq_tokens, options.max_text_len
    )
    extra = {
        "path": path,
        "batch_size": cfg.batch_size,
        "llm_raw": llm_raw,
        "resolution": side,
        "vq_raw": read_json(vq_dir / "config.json"),
    }
    return model, layout, scfg, extra


def official_state(model: ShowoModel, state: dict[str, torch.Tensor] | None = None) -> tuple[dict, dict]:
    """(Show-o file state, MAGVIT-v2 file state) under the official key names."""
    state = state if state is not None else model.state_dict()
    showo = {unmap_key(k): v for k, v in state.items() if k.startswith("llm.")}
    vq = {unmap_key(k): v for k, v in state.items() if k.startswith("vq.")}
    return showo, vq


def write_dir(
    path: Path, showo_cfg: dict, llm_raw: dict, vq_dims: MagvitDims, tokenizer: Any, states: tuple[dict, dict]
) -> Path:
    """The self-contained directory layout (loading.py docstring)."""
    from safetensors.torch import save_file

    (path / "llm").mkdir(parents=True, exist_ok=True)
    (path / "vq").mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps({**showo_cfg, "llm_model_path": "llm"}, indent=2))
    (path / "llm" / "config.json").write_text(json.dumps(llm_raw, indent=2))
    (path / "vq" / "config.json").write_text(json.dumps({"_class_name": "MAGVITv2", **vq_dims.to_json()}, indent=2))
    tokenizer.save_pretrained(str(path / "llm"))
    save_file({k: v.detach().contiguous().cpu() for k, v in states[0].items()}, str(path / SAVED_WEIGHTS))
    save_file({k: v.detach().contiguous().cpu() for k, v in states[1].items()}, str(path / "vq" / SAVED_WEIGHTS))
    return path


def save_checkpoint(
    backend: Saved, path: Path, merge_lora: bool = True, state_dict: dict[str, torch.Tensor] | None = None
) -> None:
    from unigap.models.showo.lora import merged_state_dict

    if state_dict is not None and backend.peft is not None:
        raise CheckpointError("save: an explicit state_dict cannot be combined with LoRA")
    state = state_dict
    if backend.peft is not None and merge_lora:
        state = merged_state_dict(backend.model)
    elif backend.peft is not None:  # base weights + the adapter beside them
        backend.peft.save_pretrained(str(path / "lora_adapter"))
        state = {k.replace(".base_layer.", "."): v for k, v in backend.model.state_dict().items() if ".lora_" not in k}
    write_dir(
        path,
        backend.cfg.raw,
        backend.llm_raw,
        backend.model.vq.dims,
        backend.layout.tokenizer,
        official_state(backend.model, state),
    )
