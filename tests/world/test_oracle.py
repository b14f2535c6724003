"""THE oracle test: on renders of realised specs and of their negatives the oracle is always right."""

import numpy as np
import pytest

from unigap import world
from unigap.world.scene import Obj, Scene
from unigap.world.specs import make_spec, obj_spec

N_POS = 500


@pytest.mark.parametrize("subtask", list(world.SUBTASKS))
def test_oracle_is_exact_on_positives_and_counterfactuals(subtask):
    rng = np.random.default_rng([7, list(world.SUBTASKS).index(subtask)])
    counts = {"pos": 0, "cf": 0, "extra": 0}
    errors = []
    for k in range(N_POS):
        spec = world.sample_spec(subtask, rng)
        scene = world.realize(spec, rng)
        negatives = [("cf", world.counterfactual(spec, scene, rng))]
        if k % 5 == 0:  # extra negatives on a fifth keeps the test fast
            negatives.append(("extra", world.extra_negatives(spec, scene, rng)))
        for kind, s in [("pos", scene)] + negatives:
            assert world.is_valid(s) and world.satisfies(s, spec) == (kind == "pos")
            ok, why = world.oracle(world.render(s), spec)
            counts[kind] += 1
            if ok != (kind == "pos"):
                errors.append((kind, world.prompt_text(spec), why, s))
    print(f"{subtask}: {counts}, errors {len(errors)}")
    assert counts["pos"] == counts["cf"] == N_POS
    assert not errors, errors[:5]


def test_reasons_are_readable():
    spec = make_spec("color_attr", [obj_spec("circle", "red"), obj_spec("square", "blue")])
    one = Scene((Obj("circle", "red", "big", "solid", 0, 0),))
    assert world.oracle(world.render(one), spec) == (False, "expected 2 objects, found 1")
    wrong = Scene((Obj("circle", "red", "big", "solid", 0, 0), Obj("square", "green", "small", "solid", 20, 0)))
    assert world.oracle(world.render(wrong), spec) == (False, "object 1 colour green != blue")
    right = Scene((Obj("square", "blue", "small", "solid", 20, 0), Obj("circle", "red", "big", "solid", 0, 0)))
    assert world.oracle(world.render(right), spec) == (True, "ok")


def test_relation_and_place_are_checked_on_pixels():
    spec = make_spec("spatial", [obj_spec("circle"), obj_spec("square")], {"type": "above", "a": 0, "b": 1})
    above = Scene((Obj("circle", "red", "small", "solid", 0, 0), Obj("square", "red", "small", "solid", 0, 12)))
    assert world.oracle(world.render(above), spec)[0]
    below = Scene((Obj("circle", "red", "small", "solid", 0, 12), Obj("square", "red", "small", "solid", 0, 0)))
    ok, why = world.oracle(world.render(below), spec)
    assert not ok and "above" in why
    iron = make_spec("physics", [obj_spec("cross", "blue", place="ground")], rule={"name": "iron", "args": []})
    assert world.oracle(world.render(Scene((Obj("cross", "blue", "big", "dotted", 8, 16),))), iron)[0]
    assert not world.oracle(world.render(Scene((Obj("cross", "blue", "big", "dotted", 8, 12),))), iron)[0]


def _spec():
    return make_spec("single_object", [obj_spec("circle")])


@pytest.mark.parametrize("seed", range(10))
def test_noise_images_are_false_without_raising(seed):
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert world.oracle(noise, _spec())[0] is False
    # sparse noise sprinkled over a valid render
    img = world.render(world.realize(_spec(), rng))
    img[rng.random((32, 32)) < 0.1] = rng.integers(0, 256, 3, dtype=np.uint8)
    assert world.oracle(img, _spec())[0] is False


def test_degenerate_images_are_false_without_raising():
    black = np.zeros((32, 32, 3), np.uint8)
    ok, why = world.oracle(black, _spec())
    assert not ok and "stray" in why  # no ground
    assert not world.oracle(np.full((32, 32, 3), 255, np.uint8), _spec())[0]
    assert not world.oracle(np.zeros((16, 16, 3), np.uint8), _spec())[0]
    assert not world.oracle(np.full((32, 32, 3), np.nan), _spec())[0]
    assert world.oracle(world.render(Scene()), _spec()) == (False, "expected 1 object, found 0")


def test_object_overlapping_the_ground_is_false():
    img = world.render(Scene())
    sunk = world.render(Scene((Obj("circle", "red", "big", "solid", 8, 0),)))
    img[20:32, 8:20] = sunk[0:12, 8:20]  # the same circle drawn 20 rows lower, into the ground
    ok, why = world.oracle(img, _spec())
    assert not ok and why


def test_malformed_objects_are_false():
    img = world.render(Scene())
    img[4:14, 4:14] = world.RGB["red"]  # a 10x10 square is neither small nor big
    ok, why = world.oracle(img, _spec())
    assert not ok and "size unclear" in why
    img = world.render(Scene((Obj("square", "red", "big", "solid", 0, 0),)))
    img[0:12, 6:12] = world.RGB["blue"]  # half red, half blue
    assert "color unclear" in world.oracle(img, make_spec("single_object", [obj_spec("square")]))[1]


def test_touching_objects_merge_and_fail():
    img = world.render(Scene((Obj("square", "red", "small", "solid", 0, 0),)))
    img[0:8, 8:16] = world.RGB["red"]
    spec = make_spec("two_object", [obj_spec("square"), obj_spec("square", size="small")])
    assert not world.oracle(img, spec)[0]


def test_oracle_accepts_other_integer_dtypes():
    spec, rng = _spec(), np.random.default_rng(3)
    img = world.render(world.realize(spec, rng))
    assert world.oracle(img.astype(np.int64), spec)[0]
