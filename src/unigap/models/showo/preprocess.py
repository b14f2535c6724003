"""Show-o's image preprocessing for understanding, as the official `training/utils.py` `image_transform`.

The official code runs torchvision on a PIL image: Resize(side, BICUBIC) (the shorter side to `side`,
the longer to int(side * long / short), PIL's bicubic on uint8), CenterCrop(side) (offsets
int(round((dim - side) / 2))), ToTensor (/255), Normalize(0.5, 0.5). The same steps here with PIL and
no torchvision; checked against the official function (tests/fixtures/official/showo/preprocess).
"""

from __future__ import annotations

import numpy as np
import torch


def image_transform(images: torch.Tensor, side: int) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, side, side) float32 in [0, 1] (before the official Normalize)."""
    if tuple(images.shape[1:3]) == (side, side):  # PIL returns a same-size resize unchanged
        return images.permute(0, 3, 1, 2).float() / 255.0
    rows = [torch.from_numpy(_resize_crop(img, side)) for img in images.cpu().numpy()]
    return torch.stack(rows).to(images.device).permute(0, 3, 1, 2).float() / 255.0


def _resize_crop(image: np.ndarray, side: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (side, side, 3) uint8: torchvision's Resize + CenterCrop on a PIL image."""
    from PIL import Image

    pil = Image.fromarray(image)
    w, h = pil.size
    long = int(side * max(w, h) / min(w, h))
    pil = pil.resize((side, long) if w <= h else (long, side), Image.BICUBIC)
    top, left = int(round((pil.height - side) / 2.0)), int(round((pil.width - side) / 2.0))
    return np.array(pil.crop((left, top, left + side, top + side)), dtype=np.uint8)  # a writable copy
