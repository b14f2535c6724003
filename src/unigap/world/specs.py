"""Prompt specs: sampling them per subtask, and their text (a pure function of the spec).

A spec's `objects` hold the resolved constraints the oracle checks; `rule` is what the text
says (so the text, and a literal-reading failure, can be produced from the spec alone).
A rule governs object 0 only; hard specs add a plain companion object, so drawing them takes
the easy band's composition plus the rule (lone rule objects were drawn better than the medium band).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from unigap.world.constants import COLORS, MIXES, RELATIONS, SHAPES, SIZES, TEXTURES, check_subtask, mix

Spec = dict[str, Any]
ATTRS = ("shape", "color", "size", "texture", "place")

# The object field each rule decides, and the value it decides (mix depends on its args).
RULE_FIELD = {
    "iron": "place",
    "helium": "place",
    "mix": "color",
    "young": "size",
    "grown": "size",
    "ripe": "color",
    "unripe": "color",
    "autumn": "color",
    "spring": "color",
}
RULE_VALUE = {
    "iron": "ground",
    "helium": "top",
    "young": "small",
    "grown": "big",
    "ripe": "red",
    "unripe": "green",
    "autumn": "orange",
    "spring": "green",
}
BIOLOGY_RULES = ("young", "grown", "ripe", "unripe", "autumn", "spring")


def obj_spec(
    shape: str, color: str | None = None, size: str | None = None, texture: str | None = None, place: str | None = None
) -> dict[str, str | None]:
    return {"shape": shape, "color": color, "size": size, "texture": texture, "place": place}


def make_spec(subtask: str, objects: list[dict], relation: dict | None = None, rule: dict | None = None) -> Spec:
    return {"subtask": subtask, "objects": objects, "relation": relation, "rule": rule}


def rule_value(rule: dict) -> str:
    return mix(*rule["args"]) if rule["name"] == "mix" else RULE_VALUE[rule["name"]]


def rule_field(spec: Spec) -> str | None:
    """The object attribute the spec's rule decides (None without a rule)."""
    return RULE_FIELD[spec["rule"]["name"]] if spec.get("rule") else None


# --- sampling ---------------------------------------------------------------------------


def _pick(rng: np.random.Generator, values: tuple[str, ...]) -> str:
    return values[int(rng.integers(len(values)))]


def _opt(rng: np.random.Generator, values: tuple[str, ...]) -> str | None:
    """None (unconstrained) or one of the values, all equally likely."""
    i = int(rng.integers(len(values) + 1))
    return None if i == len(values) else values[i]


def _two_distinct(rng: np.random.Generator, values: tuple[str, ...]) -> tuple[str, str]:
    i, j = rng.choice(len(values), size=2, replace=False)
    return values[int(i)], values[int(j)]


def _np(rng: np.random.Generator, color: bool = True, size: bool = True, texture: bool = True) -> dict:
    return obj_spec(
        _pick(rng, SHAPES),
        _opt(rng, COLORS) if color else None,
        _opt(rng, SIZES) if size else None,
        _opt(rng, TEXTURES) if texture else None,
    )


def _rich_np(rng: np.random.Generator) -> dict:
    """An NP with at least two of size/texture/colour (rejection keeps it uniform)."""
    while True:
        o = _np(rng)
        if sum(o[k] is not None for k in ("color", "size", "texture")) >= 2:
            return o


def _relation(rng: np.random.Generator) -> dict:
    return {"type": _pick(rng, tuple(RELATIONS)), "a": 0, "b": 1}


def _single_object(rng: np.random.Generator) -> Spec:
    return make_spec("single_object", [_np(rng)])


def _two_object(rng: np.random.Generator) -> Spec:
    # Two identical NPs ("a circle and a circle") are not natural English: redraw.
    while True:
        a, b = _np(rng, color=False), _np(rng, color=False)
        if a != b:
            return make_spec("two_object", [a, b])


def _color_attr(rng: np.random.Generator) -> Spec:
    c1, c2 = _two_distinct(rng, COLORS)
    return make_spec("color_attr", [obj_spec(_pick(rng, SHAPES), c1), obj_spec(_pick(rng, SHAPES), c2)])


def _texture(rng: np.random.Generator) -> Spec:
    t1, t2 = _two_distinct(rng, TEXTURES)
    objs = [obj_spec(_pick(rng, SHAPES), _opt(rng, COLORS), texture=t) for t in (t1, t2)]
    return make_spec("texture", objs)


def _spatial(rng: np.random.Generator) -> Spec:
    objs = [obj_spec(_pick(rng, SHAPES), _opt(rng, COLORS)) for _ in range(2)]
    return make_spec("spatial", objs, _relation(rng))


def _complex(rng: np.random.Generator) -> Spec:
    return make_spec("complex", [_rich_np(rng), _rich_np(rng)], _relation(rng))


def _companion(rng: np.random.Generator) -> dict:
    """The plain second object of a hard prompt: a coloured shape (as in color_attr)."""
    return obj_spec(_pick(rng, SHAPES), _pick(rng, COLORS))


def _physics(rng: np.random.Generator) -> Spec:
    name = _pick(rng, ("iron", "helium"))
    o = obj_spec(_pick(rng, SHAPES), _pick(rng, COLORS), _opt(rng, SIZES), _opt(rng, TEXTURES), RULE_VALUE[name])
    return make_spec("physics", [o, _companion(rng)], rule={"name": name, "args": []})


def _chemistry(rng: np.random.Generator) -> Spec:
    pair = list(_pick(rng, tuple(MIXES)))
    if rng.random() < 0.5:
        pair.reverse()
    o = obj_spec(_pick(rng, SHAPES), mix(*pair), _opt(rng, SIZES), _opt(rng, TEXTURES))
    return make_spec("chemistry", [o, _companion(rng)], rule={"name": "mix", "args": pair})


def _biology(rng: np.random.Generator) -> Spec:
    name = _pick(rng, BIOLOGY_RULES)
    if name in ("young", "grown"):  # sprouts: colour required, texture optional, size by rule
        o = obj_spec(_pick(rng, SHAPES), _pick(rng, COLORS), RULE_VALUE[name], _opt(rng, TEXTURES))
    else:  # fruit and leaves: size and texture optional, colour by rule
        o = obj_spec(_pick(rng, SHAPES), RULE_VALUE[name], _opt(rng, SIZES), _opt(rng, TEXTURES))
    return make_spec("biology", [o, _companion(rng)], rule={"name": name, "args": []})


_SAMPLERS: dict[str, Callable[[np.random.Generator], Spec]] = {
    "single_object": _single_object,
    "two_object": _two_object,
    "color_attr": _color_attr,
    "texture": _texture,
    "spatial": _spatial,
    "complex": _complex,
    "physics": _physics,
    "chemistry": _chemistry,
    "biology": _biology,
}


def sample_spec(subtask: str, rng: np.random.Generator) -> Spec:
    """A random prompt spec of `subtask` (each grammar option equally likely)."""
    return _SAMPLERS[check_subtask(subtask)](rng)


# --- text -------------------------------------------------------------------------------


def _article(words: list[str]) -> str:
    return ("an " if words[0][0] in "aeiou" else "a ") + " ".join(words)


def _np_words(obj: dict, skip: str | None = None) -> list[str]:
    """size, texture, colour, shape (the words present), leaving out the rule-decided field."""
    return [obj[k] for k in ("size", "texture", "color", "shape") if obj[k] is not None and k != skip]


def _biology_text(obj: dict, name: str) -> str:
    if name == "young":
        return "a young " + " ".join(_np_words(obj, "size")) + " sprout"
    if name == "grown":
        return _article(_np_words(obj, "size")) + " sprout after a month of growth"
    if name in ("ripe", "unripe"):
        words = [w for w in (obj["size"], obj["texture"]) if w is not None]
        return _article(words + [name, obj["shape"], "fruit"])
    return _article(_np_words(obj, "color")) + f" leaf in {name}"


def prompt_text(spec: Spec) -> str:
    """The prompt's English text; a pure function of the spec."""
    objs, rule, rel = spec["objects"], spec.get("rule"), spec.get("relation")
    if rel is not None:
        a, b = objs[rel["a"]], objs[rel["b"]]
        return f"{_article(_np_words(a))} {RELATIONS[rel['type']]} {_article(_np_words(b))}"
    if rule is None:
        return " and ".join(_article(_np_words(o)) for o in objs)
    return " and ".join([_rule_text(objs[0], rule)] + [_article(_np_words(o)) for o in objs[1:]])


def _rule_text(obj: dict, rule: dict) -> str:
    """The phrase of a rule-governed object (object 0 of a hard spec)."""
    if rule["name"] == "iron":
        return _article(_np_words(obj)) + " made of iron"
    if rule["name"] == "helium":
        return _article(_np_words(obj)) + " filled with helium"
    if rule["name"] == "mix":
        c1, c2 = rule["args"]
        return _article(_np_words(obj, "color")) + f" painted with a mix of {c1} and {c2} paint"
    return _biology_text(obj, rule["name"])
