"""Realising a spec as a random scene: free attributes and positions drawn uniformly."""

from __future__ import annotations

import itertools

import numpy as np

from unigap.errors import UnigapError
from unigap.world.constants import COLORS, SIZES, TEXTURES
from unigap.world.match import place_ok, relation_ok
from unigap.world.scene import Obj, Scene, grid_positions, is_valid

_TRIES = 500  # rejection-sampling tries before enumerating every placement


def _fill(want: dict, rng: np.random.Generator) -> Obj:
    """An object meeting `want`'s attributes; unconstrained ones drawn uniformly (at 0, 0)."""

    def get(attr: str, values: tuple[str, ...]) -> str:
        return want[attr] if want.get(attr) is not None else values[int(rng.integers(len(values)))]

    return Obj(want["shape"], get("color", COLORS), get("size", SIZES), get("texture", TEXTURES), 0, 0)


def _candidates(obj: Obj, want: dict) -> list[tuple[int, int]]:
    positions = grid_positions(obj.size)
    return [p for p in positions if place_ok(obj.moved(*p).bbox, want.get("place"))]


def _placed_ok(objs: list[Obj], spec: dict) -> bool:
    rel = spec.get("relation")
    if rel and not relation_ok(objs[rel["a"]].bbox, objs[rel["b"]].bbox, rel["type"]):
        return False
    return is_valid(Scene(tuple(objs)))


def place_objects(objs: list[Obj], wants: list[dict], spec: dict, rng: np.random.Generator) -> Scene:
    """Positions uniform over all valid joint placements: rejection sampling from independent
    uniform draws is exactly that, and is fast because most draws are valid."""
    cands = [_candidates(o, w) for o, w in zip(objs, wants)]
    for _ in range(_TRIES):
        placed = [o.moved(*c[int(rng.integers(len(c)))]) for o, c in zip(objs, cands)]
        if _placed_ok(placed, spec):
            return Scene(tuple(placed))
    # Rare tight cases: enumerate (at most a few thousand joint placements) and pick one.
    valid = [ps for ps in itertools.product(*cands) if _placed_ok([o.moved(*p) for o, p in zip(objs, ps)], spec)]
    if not valid:
        raise UnigapError(f"spec cannot be realised: {spec}")
    ps = valid[int(rng.integers(len(valid)))]
    return Scene(tuple(o.moved(*p) for o, p in zip(objs, ps)))


def realize(spec: dict, rng: np.random.Generator) -> Scene:
    """A random scene satisfying the spec; object i of the scene realises spec object i."""
    wants = spec["objects"]
    return place_objects([_fill(w, rng) for w in wants], wants, spec, rng)
