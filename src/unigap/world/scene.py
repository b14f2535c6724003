"""Scenes (objects on the patch grid), their validity rules, and the pure renderer."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

import numpy as np

from unigap.world.constants import BLACK, DARK, GROUND, GROUND_ROW, IMAGE, PATCH, RGB, SIZE_PX
from unigap.world.shapes import bitmap

BBox = tuple[int, int, int, int]  # (x_min, y_min, x_max, y_max), inclusive


@dataclass(frozen=True)
class Obj:
    shape: str
    color: str
    size: str
    texture: str
    x: int  # top-left pixel, a multiple of PATCH
    y: int

    @property
    def side(self) -> int:
        return SIZE_PX[self.size]

    @property
    def bbox(self) -> BBox:
        return (self.x, self.y, self.x + self.side - 1, self.y + self.side - 1)

    def moved(self, x: int, y: int) -> Obj:
        return replace(self, x=x, y=y)


@dataclass(frozen=True)
class Scene:
    objects: tuple[Obj, ...] = ()

    def with_object(self, i: int, obj: Obj) -> Scene:
        objs = list(self.objects)
        objs[i] = obj
        return Scene(tuple(objs))


def in_bounds(obj: Obj) -> bool:
    x0, y0, x1, y1 = obj.bbox
    aligned = obj.x % PATCH == 0 and obj.y % PATCH == 0
    return aligned and x0 >= 0 and y0 >= 0 and x1 < IMAGE and y1 < GROUND_ROW


def separated(a: BBox, b: BBox) -> bool:
    """At least one empty patch (PATCH px) between the boxes along x or along y."""
    gap_x = max(b[0] - a[2], a[0] - b[2]) - 1
    gap_y = max(b[1] - a[3], a[1] - b[3]) - 1
    return gap_x >= PATCH or gap_y >= PATCH


def is_valid(scene: Scene) -> bool:
    objs = scene.objects
    if not all(in_bounds(o) for o in objs):
        return False
    return all(separated(a.bbox, b.bbox) for i, a in enumerate(objs) for b in objs[i + 1 :])


def grid_positions(size: str) -> list[tuple[int, int]]:
    """Every patch-aligned in-bounds top-left corner for an object of `size`."""
    side = SIZE_PX[size]
    return [(x, y) for y in range(0, GROUND_ROW - side + 1, PATCH) for x in range(0, IMAGE - side + 1, PATCH)]


def free_positions(scene: Scene, i: int | None, size: str) -> list[tuple[int, int]]:
    """Positions where an object of `size` fits next to the scene's objects other than i."""
    others = [o.bbox for j, o in enumerate(scene.objects) if j != i]
    side = SIZE_PX[size]
    out = []
    for x, y in grid_positions(size):
        box = (x, y, x + side - 1, y + side - 1)
        if all(separated(box, b) for b in others):
            out.append((x, y))
    return out


@cache
def _sprite(shape: str, color: str, size: str, texture: str, x_odd: int, y_odd: int) -> np.ndarray:
    """(s, s, 4) RGB + mask of one object. Textures follow absolute pixel parity; positions are
    multiples of 4, so the parity of the top-left corner (always even) is all that matters."""
    side = SIZE_PX[size]
    ys, xs = np.mgrid[0:side, 0:side]
    ys, xs = ys + y_odd, xs + x_odd
    dark = {"solid": np.zeros_like(ys, bool), "striped": ys % 2 == 1, "dotted": (xs % 2 == 1) & (ys % 2 == 1)}[texture]
    rgb = np.where(dark[..., None], np.array(DARK[color]), np.array(RGB[color])).astype(np.uint8)
    out = np.concatenate([rgb, bitmap(shape, side)[..., None].astype(np.uint8)], axis=-1)
    out.setflags(write=False)
    return out


def render(scene: Scene) -> np.ndarray:
    """(32, 32, 3) uint8 image of the scene: black sky, gray ground, objects. Pure."""
    img = np.zeros((IMAGE, IMAGE, 3), dtype=np.uint8)
    img[:] = BLACK
    img[GROUND_ROW:] = GROUND
    for o in scene.objects:
        if o.x < 0 or o.y < 0:
            raise ValueError(f"object {o} starts outside the image")
        sprite = _sprite(o.shape, o.color, o.size, o.texture, o.x % 2, o.y % 2)
        region = img[o.y : o.y + o.side, o.x : o.x + o.side]
        mask = sprite[..., 3].astype(bool)[: region.shape[0], : region.shape[1]]
        region[mask] = sprite[: region.shape[0], : region.shape[1], :3][mask]
    return img
