"""Negative scenes for a spec: minimal counterfactuals and other realistic failures.

Every function here returns a valid scene (in bounds, no overlaps) that does NOT satisfy the
spec; each candidate is checked with `satisfies`, because with two objects an apparently
breaking change can be undone by matching the objects the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from unigap.world.constants import COLORS, SHAPES, SIZE_PX, SIZES, TEXTURES
from unigap.world.match import assignment, place_ok, satisfies
from unigap.world.realize import realize
from unigap.world.scene import Obj, Scene, free_positions, is_valid
from unigap.world.specs import RULE_FIELD, make_spec, obj_spec, prompt_text, rule_field, rule_value, sample_spec

Maker = Callable[[dict, Scene, tuple[int, ...], np.random.Generator], "Scene | None"]
_VALUES = {"shape": SHAPES, "color": COLORS, "size": SIZES, "texture": TEXTURES}
# What a model reading a colour rule literally draws: the other season's / ripeness' colour.
_LITERAL_COLOR = {"ripe": "green", "unripe": "red", "autumn": "green", "spring": "orange"}


def _shuffled(items: list, rng: np.random.Generator) -> list:
    return [items[k] for k in rng.permutation(len(items))]


def _with(spec: dict, i: int, **changes: str | None) -> dict:
    """A copy of spec with spec object i's fields changed (the target of a minimal change)."""
    objs = [dict(o) for o in spec["objects"]]
    objs[i].update(changes)
    return {**spec, "objects": objs}


def _fails(scene: Scene | None, spec: dict) -> bool:
    return scene is not None and is_valid(scene) and not satisfies(scene, spec)


def _centre_dist(a: Obj, x: int, y: int, side: int) -> float:
    return abs(a.x + a.side / 2 - x - side / 2) + abs(a.y + a.side / 2 - y - side / 2)


def _relocate(scene: Scene, j: int, new: Obj, target: dict) -> Scene | None:
    """Put `new` (a resized object j) at the free position nearest the old one that keeps
    every other constraint of the spec (target)."""
    old, side = scene.objects[j], SIZE_PX[new.size]
    for x, y in sorted(free_positions(scene, j, new.size), key=lambda p: (_centre_dist(old, *p, side), p)):
        out = scene.with_object(j, new.moved(x, y))
        if satisfies(out, target):
            return out
    return None


def _change(spec: dict, scene: Scene, perm: tuple[int, ...], i: int, attr: str, value: str) -> Scene | None:
    """Scene with attribute `attr` of the object realising spec object i set to `value`."""
    j = perm[i]
    new = replace(scene.objects[j], **{attr: value})
    if attr == "size":
        return _relocate(scene, j, new, _with(spec, i, size=value))
    return scene.with_object(j, new)


def _move(
    spec: dict,
    scene: Scene,
    j: int,
    rng: np.random.Generator,
    keep: dict,
    where: Callable[[int, int], bool] = lambda x, y: True,
) -> Scene | None:
    """Object j moved to a random free position (filtered by `where`) that still satisfies
    `keep` (the spec minus what the move should break) but not the spec."""
    obj = scene.objects[j]
    cands = [p for p in free_positions(scene, j, obj.size) if p != (obj.x, obj.y) and where(*p)]
    for p in _shuffled(cands, rng):
        out = scene.with_object(j, obj.moved(*p))
        if satisfies(out, keep) and not satisfies(out, spec):
            return out
    return None


# --- counterfactual kinds ---------------------------------------------------------------


def _cf_attribute(spec: dict, scene: Scene, perm: tuple[int, ...], rng: np.random.Generator) -> Scene | None:
    skip = rule_field(spec)  # object 0's rule-decided attribute is the "rule" kind's business
    options = [
        (i, a)
        for i, want in enumerate(spec["objects"])
        for a in _VALUES
        if want[a] is not None and not (i == 0 and a == skip)
    ]
    for i, attr in _shuffled(options, rng):
        current = getattr(scene.objects[perm[i]], attr)
        for value in _shuffled([v for v in _VALUES[attr] if v != current], rng):
            out = _change(spec, scene, perm, i, attr, value)
            if _fails(out, spec):
                return out
    return None


def _swap(spec: dict, scene: Scene, perm: tuple[int, ...]) -> Scene | None:
    rel = spec["relation"]
    a, b = perm[rel["a"]], perm[rel["b"]]
    oa, ob = scene.objects[a], scene.objects[b]
    out = scene.with_object(a, oa.moved(ob.x, ob.y)).with_object(b, ob.moved(oa.x, oa.y))
    return out if _fails(out, spec) else None


def _cf_relation(spec: dict, scene: Scene, perm: tuple[int, ...], rng: np.random.Generator) -> Scene | None:
    if rng.random() < 0.5 and (out := _swap(spec, scene, perm)) is not None:
        return out
    keep = {**spec, "relation": None}
    rel = spec["relation"]
    for j in _shuffled([perm[rel["a"]], perm[rel["b"]]], rng):
        if (out := _move(spec, scene, j, rng, keep)) is not None:
            return out
    return _swap(spec, scene, perm)


def _wrong_color(spec: dict, current: str, rng: np.random.Generator) -> str:
    rule = spec["rule"]
    if rule["name"] == "mix" and rng.random() < 0.5:
        return rule["args"][int(rng.integers(2))]  # one of the named paints, unmixed
    others = [c for c in COLORS if c != current]
    return others[int(rng.integers(len(others)))]


def _cf_rule(spec: dict, scene: Scene, perm: tuple[int, ...], rng: np.random.Generator) -> Scene | None:
    """Break the rule's outcome: iron floats, helium sinks, wrong mixed colour, wrong growth."""
    field, j = rule_field(spec), perm[0]
    obj = scene.objects[j]
    if field == "place":  # same column, another height
        keep = _with(spec, 0, place=None)
        return _move(spec, scene, j, rng, keep, lambda x, y: x == obj.x)
    if field == "size":
        return _change(spec, scene, perm, 0, "size", "big" if obj.size == "small" else "small")
    return _change(spec, scene, perm, 0, "color", _wrong_color(spec, obj.color, rng))


_CF_KINDS: dict[str, Maker] = {"attribute": _cf_attribute, "relation": _cf_relation, "rule": _cf_rule}


def _fallback(spec: dict, scene: Scene, perm: tuple[int, ...]) -> Scene:
    """A shape change always breaks a matching scene (the multiset of shapes changes)."""
    obj = scene.objects[perm[0]]
    out = scene.with_object(perm[0], replace(obj, shape=SHAPES[(SHAPES.index(obj.shape) + 1) % len(SHAPES)]))
    return out if _fails(out, spec) else Scene(())


def counterfactual(spec: dict, scene: Scene, rng: np.random.Generator) -> Scene:
    """A minimal change of a matching scene that makes it not match: one constrained attribute
    of one object, or the relation, or the rule's outcome (kind chosen at random).
    A scene that already fails the spec is returned unchanged."""
    perm = assignment(scene.objects, spec)
    if perm is None:
        return scene
    kinds = ["attribute"] + ["relation"] * bool(spec.get("relation")) + ["rule"] * bool(spec.get("rule"))
    for kind in _shuffled(kinds, rng):
        out = _CF_KINDS[kind](spec, scene, perm, rng)
        if _fails(out, spec):
            return out  # type: ignore[return-value]
    return _fallback(spec, scene, perm)


# --- other realistic failures -----------------------------------------------------------


def _missing(spec: dict, scene: Scene, perm: tuple[int, ...], rng: np.random.Generator) -> Scene | None:
    drop = int(rng.integers(len(scene.objects)))
    return Scene(tuple(o for k, o in enumerate(scene.objects) if k != drop))


def _random_obj(rng: np.random.Generator) -> Obj:
    def pick(values: tuple[str, ...]) -> str:
        return values[int(rng.integers(len(values)))]

    return Obj(pick(SHAPES), pick(COLORS), pick(SIZES), pick(TEXTURES), 0, 0)


def _extra(spec: dict, scene: Scene, perm: tuple[int, ...], rng: np.random.Generator) -> Scene | None:
    obj = _random_obj(rng)
    cands = free_positions(scene, None, obj.size)
    if not cands:  # no room for a big one: try a small one
        obj = replace(obj, size="small")
        cands = free_positions(scene, None, obj.size)
    if not cands:
        return None
    x, y = cands[int(rng.integers(len(cands)))]
    return Scene(scene.objects + (obj.moved(x, y),))


def _other(spec: dict, scene: Scene, perm: tuple[int, ...], rng: np.random.Generator) -> Scene | None:
    """A scene drawn for another prompt of the same subtask."""
    text = prompt_text(spec)
    for _ in range(20):
        other = sample_spec(spec["subtask"], rng)
        if prompt_text(other) != text and _fails(out := realize(other, rng), spec):
            return out
    return None


def _literal(spec: dict, scene: Scene, perm: tuple[int, ...], rng: np.random.Generator) -> Scene | None:
    """What reading the rule's words literally (no world knowledge) would draw."""
    rule, j = spec["rule"], perm[0]
    obj, field = scene.objects[j], RULE_FIELD[spec["rule"]["name"]]
    if field == "place":  # anywhere but where the rule puts it
        place = rule_value(rule)
        return _move(
            spec, scene, j, rng, _with(spec, 0, place=None), lambda x, y: not place_ok(obj.moved(x, y).bbox, place)
        )
    if rule["name"] == "mix":  # both paints drawn as two objects (beside the other objects)
        objs = [obj_spec(obj.shape, c, obj.size, obj.texture) for c in rule["args"]]
        return realize(make_spec(spec["subtask"], objs + spec["objects"][1:]), rng)
    if field == "size":
        return _change(spec, scene, perm, 0, "size", "big" if obj.size == "small" else "small")
    return _change(spec, scene, perm, 0, "color", _LITERAL_COLOR[rule["name"]])


_EXTRA_KINDS: dict[str, Maker] = {"missing": _missing, "extra": _extra, "other": _other, "literal": _literal}


def extra_negatives(spec: dict, scene: Scene, rng: np.random.Generator) -> Scene:
    """Another realistic failure (kind at random): a missing object, an extra object, a scene
    of another prompt of the subtask, or (hard subtasks) the literal reading of the rule."""
    perm = assignment(scene.objects, spec)
    if perm is None:
        return scene
    kinds = ["missing", "extra", "other"] + ["literal"] * bool(spec.get("rule"))
    for kind in _shuffled(kinds, rng):
        out = _EXTRA_KINDS[kind](spec, scene, perm, rng)
        if _fails(out, spec):
            return out  # type: ignore[return-value]
    return counterfactual(spec, scene, rng)
