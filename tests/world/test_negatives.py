from dataclasses import fields

import numpy as np
import pytest

from unigap import world
from unigap.world.scene import Obj

_ATTRS = ("shape", "color", "size", "texture")


def _changes(a, b):
    """(attribute names changed, number of objects moved) between two same-length scenes."""
    attrs, moved = set(), 0
    for x, y in zip(a.objects, b.objects):
        attrs |= {f for f in _ATTRS if getattr(x, f) != getattr(y, f)}
        moved += (x.x, x.y) != (y.x, y.y)
    return attrs, moved


@pytest.mark.parametrize("subtask", list(world.SUBTASKS))
def test_counterfactuals_are_minimal(subtask):
    rng = np.random.default_rng(11)
    kinds = set()
    for _ in range(150):
        spec = world.sample_spec(subtask, rng)
        scene = world.realize(spec, rng)
        cf = world.counterfactual(spec, scene, rng)
        assert len(cf.objects) == len(scene.objects)
        attrs, moved = _changes(scene, cf)
        assert len(attrs) <= 1
        if attrs and attrs != {"size"}:
            assert moved == 0  # shape/colour/texture changes keep the position
        kinds.add(next(iter(attrs)) if attrs else "position")
    if world.SUBTASKS[subtask] != "easy" and subtask not in ("texture", "chemistry", "biology"):
        assert "position" in kinds  # relation and physics counterfactuals move objects


def test_counterfactual_kinds_cover_rules():
    rng = np.random.default_rng(5)
    iron = {
        "subtask": "physics",
        "objects": [{"shape": "circle", "color": "red", "size": None, "texture": None, "place": "ground"}],
        "relation": None,
        "rule": {"name": "iron", "args": []},
    }
    seen = set()
    for _ in range(60):
        scene = world.realize(iron, rng)
        cf = world.counterfactual(iron, scene, rng)
        seen.add("floats" if cf.objects[0].bbox[3] != 27 else "attr")
    assert seen == {"floats", "attr"}


def test_non_matching_scene_is_returned_unchanged():
    rng = np.random.default_rng(0)
    spec = world.sample_spec("single_object", rng)
    other = world.Scene(
        (Obj("square" if spec["objects"][0]["shape"] != "square" else "circle", "red", "small", "solid", 0, 0),)
    )
    assert world.counterfactual(spec, other, rng) == other


@pytest.mark.parametrize("subtask", list(world.SUBTASKS))
def test_extra_negatives_fail_and_stay_valid(subtask):
    rng = np.random.default_rng(13)
    for _ in range(60):
        spec = world.sample_spec(subtask, rng)
        scene = world.realize(spec, rng)
        neg = world.extra_negatives(spec, scene, rng)
        assert world.is_valid(neg) and not world.satisfies(neg, spec)


def test_realize_draws_free_attributes():
    rng = np.random.default_rng(0)
    spec = {
        "subtask": "single_object",
        "relation": None,
        "rule": None,
        "objects": [{"shape": "circle", "color": None, "size": None, "texture": None, "place": None}],
    }
    objs = [world.realize(spec, rng).objects[0] for _ in range(300)]
    assert {o.color for o in objs} == set(world.COLORS) and {o.texture for o in objs} == set(world.TEXTURES)
    assert {o.size for o in objs} == set(world.SIZES) and len({(o.x, o.y) for o in objs}) > 20
    assert [f.name for f in fields(Obj)] == ["shape", "color", "size", "texture", "x", "y"]
