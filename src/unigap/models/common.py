"""Helpers the transformers-based backends (janus, showo, emu3) share."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from unigap.errors import CheckpointError, ConfigError

DTYPES = {
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp16": torch.float16,
    "float16": torch.float16,
    "fp32": torch.float32,
    "float32": torch.float32,
}


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """ "auto" = bf16 on CUDA (what the checkpoints ship in), fp32 elsewhere (CPU bf16 matmuls are slow)."""
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if name not in DTYPES:
        raise ConfigError(f"model.dtype: unknown dtype {name!r}; valid: auto, {', '.join(DTYPES)}")
    return DTYPES[name]


def read_config_dict(path: str) -> dict[str, Any]:
    """The raw config.json (without resolving model_type, so foreign checkpoints still load)."""
    from transformers import PretrainedConfig

    try:
        return PretrainedConfig.get_config_dict(path)[0]
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{path}: no readable model config (config.json): {err}") from None


def transformers_major() -> int:
    import transformers

    return int(transformers.__version__.split(".")[0])


def dtype_kwarg(dtype: torch.dtype) -> dict[str, torch.dtype]:
    """`dtype=` since transformers 4.56; `torch_dtype=` before (still accepted, deprecated, in 5.x)."""
    import transformers
    from packaging.version import Version

    return {"dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype": dtype}


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


def rowwise_answer_logprobs(
    tokenizer: Any,
    images: torch.Tensor,
    questions: Sequence[str],
    answers: Sequence[str],
    row_inputs: Callable[[torch.Tensor, str, list[int]], dict],
    forward: Callable[[dict], torch.Tensor],
) -> torch.Tensor:
    """Teacher-forced log p(" " + answer | image, question) summed over the answer's tokens: (B,), differentiable.

    One row at a time: the answer ids are appended after each row's left-padded text, and answers
    differ in length. `row_inputs(image (1, H, W, 3), question, answer ids)` builds the model inputs,
    `forward(inputs)` returns their logits (1, T, V); the answer's logits sit one position earlier.
    """
    out = []
    for img, q, a in zip(images, questions, answers):
        ids = tokenizer(" " + a, add_special_tokens=False)["input_ids"]
        logits = forward(row_inputs(img[None], q, ids))[:, -len(ids) - 1 : -1].float()  # (1, A, V)
        target = torch.tensor(ids, device=logits.device)[None]  # (1, A)
        out.append(logits.log_softmax(-1).gather(-1, target[..., None]).sum())
    return torch.stack(out)
