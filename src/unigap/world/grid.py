"""Contact sheets of ShapeWorld images with their captions (`unigap world show`)."""

from __future__ import annotations

import textwrap

import numpy as np
from PIL import Image, ImageDraw, ImageFont

_PAD = 6
_LINE = 12  # px per caption line with PIL's default bitmap font


def _cell_text(caption: str, width_px: int) -> list[str]:
    return textwrap.wrap(caption, width=max(8, width_px // 6)) or [""]


def make_grid(images: list[np.ndarray], captions: list[str], scale: int = 4, cols: int = 4) -> Image.Image:
    """Images upscaled (nearest neighbour) by `scale`, `cols` per row, each captioned below."""
    if len(images) != len(captions):
        raise ValueError(f"{len(images)} images but {len(captions)} captions")
    if not images:
        return Image.new("RGB", (1, 1), "white")
    side = images[0].shape[0] * scale
    lines = [_cell_text(c, side) for c in captions]
    cell_w, cell_h = side + 2 * _PAD, side + 2 * _PAD + _LINE * max(len(t) for t in lines)
    cols = min(cols, len(images))
    rows = -(-len(images) // cols)
    sheet = Image.new("RGB", (cols * cell_w, rows * cell_h), "white")
    draw, font = ImageDraw.Draw(sheet), ImageFont.load_default()
    for k, (img, text) in enumerate(zip(images, lines)):
        x, y = (k % cols) * cell_w + _PAD, (k // cols) * cell_h + _PAD
        tile = Image.fromarray(np.asarray(img, dtype=np.uint8)).resize((side, side), Image.NEAREST)
        sheet.paste(tile, (x, y))
        for n, line in enumerate(text):
            draw.text((x, y + side + 2 + n * _LINE), line, fill="black", font=font)
    return sheet
