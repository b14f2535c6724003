"""Loading a Janus checkpoint (hub id or local dir) with clear errors.

Two formats load: transformers' (`model_type: janus`, e.g. deepseek-community/Janus-Pro-7B) as is,
and the original deepseek-ai one (`model_type: multi_modality`, e.g. deepseek-ai/Janus-Pro-7B and
checkpoints fine-tuned in it), converted once into the first and cached (convert.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from unigap.errors import CheckpointError
from unigap.models.common import (
    dtype_kwarg,
    read_config_dict,
    resolve_dtype,  # noqa: F401  (re-exported)
    transformers_major,
)

DEFAULT_PATH = "deepseek-community/Janus-Pro-1B"
ORIGINAL_FILES = ["config.json", "*.json", "*.safetensors", "*.bin"]  # what a hub snapshot of the original needs


@dataclass(frozen=True)
class Resolved:
    """Where the transformers-format weights are; for a converted original, the source's sha256."""

    path: str
    source_sha256: str | None = None
    converted: str | None = None  # the cache directory the conversion wrote


def resolve_checkpoint(path: str) -> Resolved:
    """transformers' format as is; the original deepseek-ai format converted (or found in the cache)."""
    found = read_config_dict(path).get("model_type")
    if found == "janus":
        return Resolved(path)
    if found == "multi_modality":
        from unigap.models.janus.convert import ensure_converted

        done = ensure_converted(local_snapshot(path))
        return Resolved(str(done.path), done.source_sha256, str(done.path))
    where = Path(path) / "config.json" if Path(path).is_dir() else f"{path} (config.json)"
    raise CheckpointError(
        f"{where}: model_type {found!r}: not a Janus checkpoint in either format unigap loads: "
        "'janus' (transformers, e.g. deepseek-community/Janus-Pro-7B) or 'multi_modality' "
        "(the original deepseek-ai/Janus-Pro-1B/7B and its fine-tunes)"
    )


def local_snapshot(path: str) -> Path:
    """A local directory as is; a hub id downloaded (or found) in the HF cache."""
    if Path(path).is_dir():
        return Path(path)
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(path, allow_patterns=ORIGINAL_FILES))
    except Exception as err:  # network, auth, missing repo: all end the same way for the user
        raise CheckpointError(f"{path}: cannot fetch the checkpoint files ({type(err).__name__}: {err})") from None


def check_consistency(config: Any, processor: Any) -> None:
    """The processor and the model must agree on image size and image tokens per image."""
    vis = config.vision_config
    grid = (vis.image_size // vis.patch_size) ** 2
    if vis.num_image_tokens != grid:
        raise CheckpointError(
            f"config: vision_config.num_image_tokens = {vis.num_image_tokens}, but "
            f"(image_size / patch_size)^2 = ({vis.image_size} / {vis.patch_size})^2 = {grid}"
        )
    if processor.num_image_tokens != vis.num_image_tokens:
        raise CheckpointError(
            f"processor num_image_tokens = {processor.num_image_tokens}, but the model config "
            f"has vision_config.num_image_tokens = {vis.num_image_tokens}"
        )
    side = processor_side(processor.image_processor)
    if side is not None and side != vis.image_size:
        raise CheckpointError(
            f"image processor size = {side}, but the model config has vision_config.image_size = {vis.image_size}"
        )


def processor_side(image_processor: Any) -> int | None:
    size = getattr(image_processor, "size", None)
    if isinstance(size, dict):
        return size.get("height", size.get("shortest_edge"))
    return getattr(size, "height", None) or (size if isinstance(size, int) else None)


def load_pretrained(path: str, device: torch.device, dtype: torch.dtype) -> tuple[Any, Any]:
    """(JanusForConditionalGeneration in eval mode on `device`, JanusProcessor) from a transformers-format
    directory or hub id, checked before the weights are read (a 7B load takes a while to fail otherwise)."""
    from transformers import JanusConfig, JanusForConditionalGeneration

    if read_config_dict(path).get("model_type") != "janus":
        raise CheckpointError(
            f"{path}: not a transformers-format Janus checkpoint (resolve_checkpoint converts the original format)"
        )
    config = JanusConfig.from_pretrained(path)
    processor = load_processor(path, config)
    check_consistency(config, processor)
    model = JanusForConditionalGeneration.from_pretrained(
        path, config=config, **dtype_kwarg(dtype), device_map=str(device)
    )
    return model.eval(), processor


def load_processor(path: str, config: Any) -> Any:
    from transformers import JanusProcessor

    processor = JanusProcessor.from_pretrained(path)
    if transformers_major() < 5:
        # 4.x neither saves nor reads a processor's num_image_tokens (always 576): there the
        # model config is the only record of it.
        processor.num_image_tokens = config.vision_config.num_image_tokens
    return processor
