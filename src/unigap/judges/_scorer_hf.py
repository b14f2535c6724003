"""Helpers shared by the benchmark scorers (geneval, t2i-compbench, sciscore): loading transformers
models from a hub id or a local directory, devices and dtypes, PIL conversion, failure records.

Nothing here imports transformers at module level; `require` turns a missing optional
dependency into an error that names the extra to install.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from unigap.errors import UnigapError
from unigap.records import Judgment


def require(module: str, extra: str = "hf") -> Any:
    """Import `module`, or raise an error naming the unigap extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise UnigapError(
            f"this scorer needs {module!r} ({err}); install it with: pip install 'unigap[{extra}]'"
        ) from None


def pick_device(device: str | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def pick_dtype(name: str, what: str) -> torch.dtype:
    dtype = getattr(torch, str(name), None)
    if not isinstance(dtype, torch.dtype):
        raise UnigapError(f"{what}: unknown dtype {name!r} (use float32, bfloat16 or float16)")
    return dtype


def load_pretrained(cls: Any, path: str, what: str, device: torch.device, dtype: torch.dtype) -> Any:
    """`cls.from_pretrained(path)` in eval mode on `device`; a clear error when it cannot load."""
    try:
        model = cls.from_pretrained(path)
    except OSError as err:  # missing dir, hub id offline, missing files
        raise UnigapError(f"{what}: cannot load {path!r}: {err}") from None
    return model.to(device=device, dtype=dtype).eval()


def load_component(loader: Callable[[str], Any], path: str, what: str) -> Any:
    try:
        return loader(path)
    except OSError as err:
        raise UnigapError(f"{what}: cannot load {path!r}: {err}") from None


def as_arrays(images: Any) -> np.ndarray:
    """(B, H, W, 3) uint8 numpy from a tensor or array."""
    arr = images.cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise UnigapError(f"scorer: images must be (B, H, W, 3), got shape {arr.shape}")
    return arr.astype(np.uint8, copy=False)


def to_pil(image: np.ndarray) -> Any:
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).convert("RGB")


def failed(what: str, err: BaseException) -> Judgment:
    return Judgment(None, None, "", "failed", f"{what}: {type(err).__name__}: {str(err)[:300]}")


def per_item(fn: Callable[[int], Judgment], n: int, what: str) -> list[Judgment]:
    """fn(i) for each item; an item that raises becomes a failed Judgment, the rest go on."""
    out = []
    for i in range(n):
        try:
            out.append(fn(i))
        except (RuntimeError, ValueError, KeyError, IndexError, TypeError) as err:
            out.append(failed(what, err))
    return out


def check_lengths(images: Sequence, prompts: Sequence, what: str) -> None:
    if len(images) != len(prompts):
        raise UnigapError(f"{what}: {len(images)} images but {len(prompts)} prompts")
