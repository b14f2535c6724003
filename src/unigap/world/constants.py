"""Fixed ShapeWorld constants: palette, shapes, sizes, textures, relations, rules, subtasks.

The tiny model's codec and tokenizer are built from these, so they are part of the world's
contract: change them and every checkpoint trained on the world is invalid.
"""

from __future__ import annotations

from unigap.errors import UnigapError

IMAGE = 32  # image side in pixels
PATCH = 4  # objects are placed on a grid of 4x4-pixel patches
GROUND_ROW = 28  # rows 28..31 are the ground; objects live in rows 0..27

BLACK = (0, 0, 0)
GROUND = (128, 128, 128)

RGB: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (245, 140, 20),
    "yellow": (240, 220, 30),
    "green": (30, 180, 50),
    "blue": (40, 80, 230),
    "purple": (140, 50, 190),
    "pink": (250, 140, 200),
    "white": (245, 245, 245),
    "cyan": (60, 220, 230),
    "brown": (130, 80, 30),
}

# Dark shade = channel * 9 // 20 (0.45). The brief said // 2, but then white's dark shade
# (122,122,122) is 18 (L1) from the ground gray and brown is 38 from orange's dark shade, which
# breaks the palette's min-distance-40 guarantee the pixel parser relies on; 0.45 is the
# factor nearest 1/2 that keeps every pair of palette entries >= 40 apart (min 42).
DARK: dict[str, tuple[int, int, int]] = {c: (r * 9 // 20, g * 9 // 20, b * 9 // 20) for c, (r, g, b) in RGB.items()}

COLORS: tuple[str, ...] = tuple(RGB)
SHAPES: tuple[str, ...] = ("square", "circle", "triangle", "cross")
SIZES: tuple[str, ...] = ("small", "big")
SIZE_PX: dict[str, int] = {"small": 8, "big": 12}
TEXTURES: tuple[str, ...] = ("solid", "striped", "dotted")
PLACES: tuple[str, ...] = ("ground", "top")

RELATIONS: dict[str, str] = {
    "left_of": "to the left of",
    "right_of": "to the right of",
    "above": "above",
    "below": "below",
}

# Paint mixing is order-free: look pairs up with `mix`.
MIXES: dict[tuple[str, str], str] = {
    ("red", "yellow"): "orange",
    ("yellow", "blue"): "green",
    ("red", "blue"): "purple",
    ("red", "white"): "pink",
    ("blue", "white"): "cyan",
    ("red", "green"): "brown",
}

from unigap.vocab import BANDS  # noqa: E402  (one definition for every layer)

SUBTASKS: dict[str, str] = {
    "single_object": "easy",
    "two_object": "easy",
    "color_attr": "easy",
    "texture": "medium",
    "spatial": "medium",
    "complex": "medium",
    "physics": "hard",
    "chemistry": "hard",
    "biology": "hard",
}
SPLITS = ("train", "eval")  # the fixed prompt splits of every subtask (splits.py)


def mix(c1: str, c2: str) -> str:
    """The colour of mixing paints c1 and c2 (either order)."""
    result = MIXES.get((c1, c2)) or MIXES.get((c2, c1))
    if result is None:
        raise UnigapError(f"{c1} and {c2} do not mix; mixable pairs: {sorted(MIXES)}")
    return result


def check_subtask(name: str) -> str:
    if name not in SUBTASKS:
        raise UnigapError(f"unknown ShapeWorld subtask {name!r}; valid: {', '.join(SUBTASKS)}")
    return name


def check_split(name: str) -> str:
    if name not in SPLITS:
        raise UnigapError(f"unknown ShapeWorld split {name!r}; valid: {', '.join(SPLITS)}")
    return name


def check_band(name: str) -> str:
    if name not in BANDS:
        raise UnigapError(f"unknown ShapeWorld band {name!r}; valid: {', '.join(BANDS)}")
    return name
