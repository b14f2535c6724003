"""Options of `--judge geneval` (`judges: [{name: geneval, options: {...}}]` or `key=value` on
`unigap judge`). Defaults are GenEval's (evaluate_images.py @ af4902f)."""

from __future__ import annotations

from pydantic import Field

from unigap.config import Config


class GenevalOptions(Config):
    # models: hub id or local directory
    detector: str = "facebook/mask2former-swin-small-coco-instance"  # Mask2Former Swin-S, COCO instance
    clip: str = "openai/clip-vit-large-patch14"  # GenEval's open_clip ViT-L-14 "openai" = these weights
    device: str | None = None  # None: cuda when available
    dtype: str = "float32"
    batch_size: int = Field(4, ge=1)
    # GenEval's evaluation options (--options key=value there)
    threshold: float = 0.3
    counting_threshold: float = 0.9
    max_objects: int = Field(16, ge=1)
    max_overlap: float = 1.0  # NMS off
    position_threshold: float = 0.1
    bgcolor: str = "#999"  # background of the masked crop; "original" keeps the image
    crop: bool = True
    # mmdet 2.x test pipeline of the Mask2Former config: Resize keep_ratio to (1333, 800), Pad /32
    scale: tuple[int, int] = (1333, 800)
    size_divisor: int = 32
    max_per_image: int = 100  # Mask2Former test_cfg.max_per_image
