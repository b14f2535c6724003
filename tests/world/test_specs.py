import json

import numpy as np
import pytest

from unigap import world
from unigap.errors import UnigapError
from unigap.world.specs import make_spec, obj_spec, rule_field, rule_value


def _texts(subtask, n, seed=0):
    rng = np.random.default_rng(seed)
    return [world.prompt_text(world.sample_spec(subtask, rng)) for _ in range(n)]


@pytest.mark.parametrize("subtask", list(world.SUBTASKS))
def test_every_subtask_has_450_distinct_prompts(subtask):
    assert len(set(_texts(subtask, 4000))) >= 450


@pytest.mark.parametrize("subtask", list(world.SUBTASKS))
def test_text_determines_the_spec(subtask):
    rng = np.random.default_rng(1)
    seen = {}
    for _ in range(600):
        spec = world.sample_spec(subtask, rng)
        assert json.loads(json.dumps(spec)) == spec  # JSON-serialisable
        key = json.dumps(spec, sort_keys=True)
        assert seen.setdefault(world.prompt_text(spec), key) == key


def test_exact_texts():
    o = obj_spec
    cases = [
        (make_spec("single_object", [o("circle", "orange")]), "an orange circle"),
        (make_spec("single_object", [o("cross", None, "big", "striped")]), "a big striped cross"),
        (make_spec("two_object", [o("circle"), o("square", size="small")]), "a circle and a small square"),
        (
            make_spec("spatial", [o("circle", "red"), o("square")], {"type": "left_of", "a": 0, "b": 1}),
            "a red circle to the left of a square",
        ),
        (
            make_spec("physics", [o("circle", "red", place="ground")], rule={"name": "iron", "args": []}),
            "a red circle made of iron",
        ),
        (
            make_spec("physics", [o("square", "orange", "big", place="top")], rule={"name": "helium", "args": []}),
            "a big orange square filled with helium",
        ),
        (
            make_spec(
                "chemistry", [o("circle", "orange", "big", "striped")], rule={"name": "mix", "args": ["yellow", "red"]}
            ),
            "a big striped circle painted with a mix of yellow and red paint",
        ),
        (
            make_spec("biology", [o("circle", "red", "small", "striped")], rule={"name": "young", "args": []}),
            "a young striped red circle sprout",
        ),
        (
            make_spec("biology", [o("square", "orange", "big")], rule={"name": "grown", "args": []}),
            "an orange square sprout after a month of growth",
        ),
        (
            make_spec("biology", [o("triangle", "green")], rule={"name": "unripe", "args": []}),
            "an unripe triangle fruit",
        ),
        (
            make_spec("biology", [o("circle", "orange", "small", "striped")], rule={"name": "autumn", "args": []}),
            "a small striped circle leaf in autumn",
        ),
        (
            make_spec(
                "physics", [o("circle", "red", place="ground"), o("cross", "blue")], rule={"name": "iron", "args": []}
            ),
            "a red circle made of iron and a blue cross",
        ),
        (
            make_spec(
                "chemistry",
                [o("square", "purple"), o("circle", "white")],
                rule={"name": "mix", "args": ["red", "blue"]},
            ),
            "a square painted with a mix of red and blue paint and a white circle",
        ),
    ]
    for spec, text in cases:
        assert world.prompt_text(spec) == text


def test_grammar_constraints_hold():
    rng = np.random.default_rng(2)
    for _ in range(300):
        ca, tx, cx, ch = (world.sample_spec(s, rng) for s in ("color_attr", "texture", "complex", "chemistry"))
        assert ca["objects"][0]["color"] != ca["objects"][1]["color"] and ca["objects"][0]["size"] is None
        assert tx["objects"][0]["texture"] != tx["objects"][1]["texture"] and None not in (tx["objects"][0]["texture"],)
        assert all(sum(o[k] is not None for k in ("color", "size", "texture")) >= 2 for o in cx["objects"])
        assert ch["objects"][0]["color"] == world.mix(*ch["rule"]["args"])
    assert all(w not in t for t in _texts("two_object", 200) for w in world.COLORS)


@pytest.mark.parametrize("subtask", ["physics", "chemistry", "biology"])
def test_hard_specs_pair_a_rule_object_with_a_plain_companion(subtask):
    rng = np.random.default_rng(3)
    for _ in range(200):
        spec = world.sample_spec(subtask, rng)
        rule_obj, companion = spec["objects"]
        assert rule_obj[rule_field(spec)] == rule_value(spec["rule"])
        assert companion["shape"] in world.SHAPES and companion["color"] in world.COLORS
        assert companion["size"] is companion["texture"] is companion["place"] is None
        assert world.prompt_text(spec).endswith(
            f" and a {companion['color']} {companion['shape']}".replace(" a o", " an o")
        )


def test_sample_spec_unknown_subtask():
    with pytest.raises(UnigapError, match="valid: single_object"):
        world.sample_spec("nope", np.random.default_rng(0))
