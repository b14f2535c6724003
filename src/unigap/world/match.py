"""Matching objects against a spec: shared by scene-level truth (`satisfies`) and the oracle.

Works on anything with shape/color/size/texture/bbox attributes: scene `Obj`s or parsed
`Detected` objects, so the two judges cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import permutations
from typing import Any, Protocol

from unigap.world.constants import GROUND_ROW
from unigap.world.scene import BBox, Scene

_WORDS = {"shape": "shape", "color": "colour", "size": "size", "texture": "texture"}


class ObjectLike(Protocol):
    shape: Any
    color: Any
    size: Any
    texture: Any

    @property
    def bbox(self) -> BBox: ...


def place_ok(bbox: BBox, place: str | None) -> bool:
    if place == "ground":
        return bbox[3] == GROUND_ROW - 1  # resting on the ground
    if place == "top":
        return bbox[1] == 0
    return True


def relation_ok(a: BBox, b: BBox, kind: str) -> bool:
    return {"left_of": a[2] < b[0], "right_of": a[0] > b[2], "above": a[3] < b[1], "below": a[1] > b[3]}[kind]


def mismatch(item: ObjectLike, want: dict, i: int) -> str | None:
    """The first way `item` fails spec object i, or None."""
    for attr, word in _WORDS.items():
        if want.get(attr) is not None and getattr(item, attr) != want[attr]:
            return f"object {i} {word} {getattr(item, attr)} != {want[attr]}"
    if not place_ok(item.bbox, want.get("place")):
        return f"object {i} is not at the {want['place']}"
    return None


def _problems(items: Sequence[ObjectLike], spec: dict, perm: tuple[int, ...]) -> list[str]:
    out = [r for i, j in enumerate(perm) if (r := mismatch(items[j], spec["objects"][i], i))]
    rel = spec.get("relation")
    if rel and not relation_ok(items[perm[rel["a"]]].bbox, items[perm[rel["b"]]].bbox, rel["type"]):
        out.append(f"object {rel['a']} is not {rel['type'].replace('_', ' ')} object {rel['b']}")
    return out


def match(items: Sequence[ObjectLike], spec: dict) -> tuple[bool, str]:
    """(True, "ok") if some assignment of items to spec objects meets every constraint;
    else False with the first problem of the assignment that has the fewest problems."""
    n = len(spec["objects"])
    if len(items) != n:
        return False, f"expected {n} object{'s' * (n != 1)}, found {len(items)}"
    best: list[str] | None = None
    for perm in permutations(range(n)):
        problems = _problems(items, spec, perm)
        if not problems:
            return True, "ok"
        if best is None or len(problems) < len(best):
            best = problems
    return False, best[0] if best else "no objects expected"


def assignment(items: Sequence[ObjectLike], spec: dict) -> tuple[int, ...] | None:
    """perm with items[perm[i]] realising spec object i, or None if nothing matches."""
    if len(items) != len(spec["objects"]):
        return None
    return next((p for p in permutations(range(len(items))) if not _problems(items, spec, p)), None)


def satisfies(scene: Scene, spec: dict) -> bool:
    """Scene-level truth (for building data; the oracle parses pixels instead)."""
    return match(scene.objects, spec)[0]
