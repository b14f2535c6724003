"""Loading a transformers-format Janus checkpoint (hub id or local dir) with clear errors."""

from __future__ import annotations

from typing import Any

import torch

from unigap.errors import CheckpointError

DEFAULT_PATH = "deepseek-community/Janus-Pro-1B"
from unigap.models.common import resolve_dtype  # noqa: F401  (re-exported)


def read_config_dict(path: str) -> dict[str, Any]:
    """The raw config.json (without resolving model_type, so foreign checkpoints still load)."""
    from transformers import PretrainedConfig

    try:
        return PretrainedConfig.get_config_dict(path)[0]
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path}: no readable model config (config.json): {err}") from None


def check_is_janus(path: str) -> None:
    found = read_config_dict(path).get("model_type")
    if found == "janus":
        return
    hint = ""
    if found == "multi_modality":  # the original deepseek-ai repos (trust_remote_code format)
        hint = (" This is the original deepseek-ai format: use deepseek-community/Janus-Pro-1B or -7B, or convert it"
                " with transformers' convert_janus_weights_to_hf.py.")
    raise CheckpointError(f"{path} is not a Janus checkpoint: its config has model_type {found!r}, "
                          f"expected 'janus'.{hint}")


def check_consistency(config: Any, processor: Any) -> None:
    """The processor and the model must agree on image size and image tokens per image."""
    vis = config.vision_config
    grid = (vis.image_size // vis.patch_size) ** 2
    if vis.num_image_tokens != grid:
        raise CheckpointError(f"config: vision_config.num_image_tokens = {vis.num_image_tokens}, but "
                              f"(image_size / patch_size)^2 = ({vis.image_size} / {vis.patch_size})^2 = {grid}")
    if processor.num_image_tokens != vis.num_image_tokens:
        raise CheckpointError(f"processor num_image_tokens = {processor.num_image_tokens}, but the model config "
                              f"has vision_config.num_image_tokens = {vis.num_image_tokens}")
    side = _processor_side(processor.image_processor)
    if side is not None and side != vis.image_size:
        raise CheckpointError(f"image processor size = {side}, but the model config has "
                              f"vision_config.image_size = {vis.image_size}")


def _processor_side(image_processor: Any) -> int | None:
    size = getattr(image_processor, "size", None)
    if isinstance(size, dict):
        return size.get("height", size.get("shortest_edge"))
    return getattr(size, "height", None) or (size if isinstance(size, int) else None)


def transformers_major() -> int:
    import transformers

    return int(transformers.__version__.split(".")[0])


def dtype_kwarg(dtype: torch.dtype) -> dict[str, torch.dtype]:
    """`dtype=` since transformers 4.56; `torch_dtype=` before (still accepted, deprecated, in 5.x)."""
    import transformers
    from packaging.version import Version

    return {"dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype": dtype}


def load_pretrained(path: str, device: torch.device, dtype: torch.dtype) -> tuple[Any, Any]:
    """(JanusForConditionalGeneration in eval mode on `device`, JanusProcessor), checked before
    the weights are read (a 7B load takes a while to fail otherwise)."""
    from transformers import JanusConfig, JanusForConditionalGeneration

    check_is_janus(path)
    config = JanusConfig.from_pretrained(path)
    processor = load_processor(path, config)
    check_consistency(config, processor)
    model = JanusForConditionalGeneration.from_pretrained(path, config=config, **dtype_kwarg(dtype),
                                                          device_map=str(device))
    return model.eval(), processor


def load_processor(path: str, config: Any) -> Any:
    from transformers import JanusProcessor

    processor = JanusProcessor.from_pretrained(path)
    if transformers_major() < 5:
        # 4.x neither saves nor reads a processor's num_image_tokens (always 576): there the
        # model config is the only record of it.
        processor.num_image_tokens = config.vision_config.num_image_tokens
    return processor
