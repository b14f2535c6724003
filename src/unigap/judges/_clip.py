"""CLIP helpers shared by the scorers: CLIP preprocessing and text/image embeddings.

Preprocessing is written out so that it does not depend on which transformers image-processor
backend is installed. Both styles resize the shorter side to the model's image size (PIL bicubic;
the longer side int(size * long / short)), centre crop, scale to [0, 1] and normalise with the
OpenAI CLIP mean/std; they differ where the official pipelines differ:
- "torchvision" (OpenAI `clip` / open_clip eval transform: GenEval's colour classifier,
  T2I-CompBench's CLIPScore): crop top = int(round((h - size) / 2)) (round half to even), x / 255
  in float32 (`ToTensor`);
- "hf" (transformers' slow `CLIPImageProcessor`, what `AutoProcessor` loads at the transformers
  4.50.3 Science-T2I pins: SciScore): crop top = (h - size) // 2 (floor: one pixel less than
  "torchvision" when the margin is 3 mod 4), x * (1 / 255) in float64 then float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
Style = Literal["torchvision", "hf"]


def clip_pixels(images: Sequence[Any], size: int, style: Style = "torchvision") -> torch.Tensor:
    """PIL images -> (B, 3, size, size) float32, CLIP-normalised."""
    if style not in ("torchvision", "hf"):
        raise ValueError(f"clip preprocessing style must be 'torchvision' or 'hf', not {style!r}")
    return torch.stack([_one(im, size, style) for im in images])


def _one(image: Any, size: int, style: Style) -> torch.Tensor:
    from PIL import Image

    w, h = image.size
    short, long = (w, h) if w <= h else (h, w)
    if short != size:
        new_long = int(size * long / short)
        image = image.resize((size, new_long) if w <= h else (new_long, size), Image.BICUBIC)
    w, h = image.size
    if style == "hf":
        top, left = (h - size) // 2, (w - size) // 2
    else:
        top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    image = image.crop((left, top, left + size, top + size))
    if style == "hf":
        return hf_normalise(image, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD)
    return normalise(image, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD)


def normalise(image: Any, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """PIL RGB -> (3, H, W) float32 (x / 255 - mean) / std, as torchvision's ToTensor + Normalize."""
    arr = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0  # (H, W, 3)
    t = torch.from_numpy(arr).permute(2, 0, 1)
    return (t - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]


def hf_normalise(image: Any, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """PIL RGB -> (3, H, W) float32 as transformers' rescale (float64 x * 1/255 -> float32) + normalize."""
    arr = (np.asarray(image.convert("RGB"), dtype=np.float64) * (1 / 255)).astype(np.float32)  # (H, W, 3)
    arr = (arr - np.array(mean, np.float32)) / np.array(std, np.float32)
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


@torch.inference_mode()
def text_features(model: Any, tokenizer: Any, texts: Sequence[str], device: torch.device) -> torch.Tensor:
    """(N, D) L2-normalised text embeddings (77-token context, truncated as CLIP's tokenize would fail)."""
    tok = tokenizer(list(texts), padding=True, truncation=True, max_length=77, return_tensors="pt").to(device)
    feats = _tensor(model.get_text_features(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"]))
    return torch.nn.functional.normalize(feats.float(), dim=-1)


@torch.inference_mode()
def image_features(model: Any, pixels: torch.Tensor, device: torch.device) -> torch.Tensor:
    """(B, D) L2-normalised image embeddings."""
    feats = _tensor(model.get_image_features(pixel_values=pixels.to(device=device, dtype=model.dtype)))
    return torch.nn.functional.normalize(feats.float(), dim=-1)


def _tensor(out: Any) -> torch.Tensor:
    # transformers 5 returns a model output with pooler_output from get_*_features; 4.x a tensor
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def image_size(model: Any) -> int:
    return int(model.config.vision_config.image_size)
