"""Pixel parsing: an image back into objects, with no access to the scene that made it.

Each pixel is classified to the nearest palette entry (colours, their dark shades, black sky,
gray ground; farther than PIXEL_TOL from all of them = unknown). Colour pixels in the sky form
8-connected components; each component is read as an object (colour, texture, size, shape).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from unigap.world.constants import BLACK, COLORS, DARK, GROUND, GROUND_ROW, IMAGE, RGB, SHAPES
from unigap.world.shapes import bitmap_stack

N = len(COLORS)
BLACK_ID, GROUND_ID, UNKNOWN_ID = 2 * N, 2 * N + 1, -1  # colours are 0..N-1, dark shades N..2N-1
PIXEL_TOL = 40  # L1 distance; palette entries are >= 42 apart, so nearest is unambiguous within it
MIN_PIXELS = 12  # smaller components are noise
COLOR_AGREE = 0.8  # share of a component's pixels that must agree on the colour
TEXTURE_TOL = 0.1  # share of pixels allowed to break the best texture pattern
SHAPE_IOU = 0.85
_SIDES = {8: "small", 12: "big"}


@dataclass(frozen=True)
class Detected:
    """One parsed object. Attributes are None where the pixels do not say clearly."""

    shape: str | None
    color: str | None
    size: str | None
    texture: str | None
    bbox: tuple[int, int, int, int]  # x_min, y_min, x_max, y_max (inclusive)
    pixels: int

    @property
    def well_formed(self) -> bool:
        return None not in (self.shape, self.color, self.size, self.texture)


@dataclass(frozen=True)
class Parse:
    objects: list[Detected]
    stray: int  # unknown pixels, ground gray in the sky, anything but ground in the ground rows


@cache
def palette() -> np.ndarray:
    """(2N+2, 3) int32: colours, dark shades, black, ground (ids as above)."""
    rows = [RGB[c] for c in COLORS] + [DARK[c] for c in COLORS] + [BLACK, GROUND]
    pal = np.array(rows, dtype=np.int32)
    pal.setflags(write=False)
    return pal


@cache
def _palette_keys() -> tuple[np.ndarray, np.ndarray]:
    """Palette colours packed as 24-bit ints, sorted, with their ids (exact-match lookup)."""
    keys = (palette() * np.array([65536, 256, 1])).sum(1)
    order = np.argsort(keys)
    return keys[order], order


def classify(img: np.ndarray) -> np.ndarray:
    """(H, W) int palette id per pixel (UNKNOWN_ID beyond PIXEL_TOL).
    Exact palette colours (every pixel of a render) are looked up; only the rest pay for the
    distance to every palette entry."""
    flat = img.reshape(-1, 3).astype(np.int32)
    keys, order = _palette_keys()
    packed = flat @ np.array([65536, 256, 1], dtype=np.int32)
    pos = np.minimum(np.searchsorted(keys, packed), len(keys) - 1)
    exact = keys[pos] == packed
    ids = np.where(exact, order[pos], UNKNOWN_ID)
    if not exact.all():
        rest = flat[~exact]
        dist = np.abs(rest[:, None, :] - palette()[None]).sum(-1)
        near = dist.argmin(1)
        ids[~exact] = np.where(dist[np.arange(len(near)), near] <= PIXEL_TOL, near, UNKNOWN_ID)
    return ids.reshape(img.shape[:2])


def components(mask: np.ndarray) -> np.ndarray:
    """8-connected component labels (the smallest flat index in each component; -1 = off).
    Min-label propagation with pointer jumping: a handful of vectorised passes, no scipy."""
    h, w = mask.shape
    off = h * w
    lab = np.where(mask, np.arange(off).reshape(h, w), off)
    while True:
        pad = np.pad(lab, 1, constant_values=off)
        new = lab.copy()
        for dy in range(3):
            for dx in range(3):
                np.minimum(new, pad[dy : dy + h, dx : dx + w], out=new)
        flat = np.append(new.ravel(), off)
        new = np.where(mask, np.minimum(new, flat[new]), off)  # jump: a label's own label
        if np.array_equal(new, lab):
            return np.where(mask, lab, -1)
        lab = new


def _texture(dark: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> str | None:
    """solid/striped/dotted: which absolute-parity pattern the dark pixels follow."""
    patterns = {"solid": np.zeros_like(dark), "striped": ys % 2 == 1, "dotted": (xs % 2 == 1) & (ys % 2 == 1)}
    errors = {name: int((dark != p).sum()) for name, p in patterns.items()}
    best = min(errors, key=errors.get)
    unique = sum(e == errors[best] for e in errors.values()) == 1
    return best if unique and errors[best] <= TEXTURE_TOL * len(dark) else None


def _color(ids: np.ndarray) -> str | None:
    counts = np.bincount(ids % N, minlength=N)  # a dark shade counts as its colour
    top = int(counts.argmax())
    return COLORS[top] if counts[top] >= COLOR_AGREE * len(ids) else None


def _shape(crop: np.ndarray) -> str | None:
    stack = bitmap_stack(crop.shape[0])
    ious = (stack & crop).sum((1, 2)) / (stack | crop).sum((1, 2))
    best = int(ious.argmax())
    return SHAPES[best] if ious[best] >= SHAPE_IOU else None


def _detect(comp: np.ndarray, ids: np.ndarray) -> Detected:
    ys, xs = np.nonzero(comp)
    x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
    side = x1 - x0 + 1
    size = _SIDES.get(side) if side == y1 - y0 + 1 else None
    shape = _shape(comp[y0 : y1 + 1, x0 : x1 + 1]) if size else None
    own = ids[ys, xs]
    return Detected(shape, _color(own), size, _texture(own >= N, ys, xs), (x0, y0, x1, y1), len(ys))


def parse(img: np.ndarray) -> Parse:
    """Objects (raster order of their first pixel) and the count of stray pixels."""
    ids = classify(img)
    sky, ground = ids[:GROUND_ROW], ids[GROUND_ROW:]
    stray = int(((sky == UNKNOWN_ID) | (sky == GROUND_ID)).sum() + (ground != GROUND_ID).sum())
    objects = (sky >= 0) & (sky < 2 * N)
    labels = components(objects)
    roots, sizes = np.unique(labels[objects], return_counts=True)
    found = [_detect(labels == r, sky) for r, n in zip(roots, sizes) if n >= MIN_PIXELS]
    return Parse(found, stray)


def parse_image(img: np.ndarray) -> list[Detected]:
    """The objects in a (32, 32, 3) uint8 image."""
    return parse(np.asarray(img)).objects


def as_image(img: object) -> tuple[np.ndarray | None, str]:
    """(image, "") if img is a (32, 32, 3) image with values in 0..255, else (None, why)."""
    arr = np.asarray(img)
    if arr.shape != (IMAGE, IMAGE, 3):
        return None, f"image shape {arr.shape} is not ({IMAGE}, {IMAGE}, 3)"
    if arr.dtype == np.uint8:
        return arr, ""
    if arr.dtype.kind not in "iuf" or not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 255:
        return None, f"image dtype {arr.dtype} or values are not uint8 0..255"
    return arr.astype(np.uint8), ""
