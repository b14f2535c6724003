import itertools

import pytest

from unigap import world
from unigap.errors import UnigapError
from unigap.world.constants import BLACK, GROUND


def test_palette_is_pairwise_distinct():
    entries = {
        **{c: world.RGB[c] for c in world.COLORS},
        **{c + "_dark": world.DARK[c] for c in world.COLORS},
        "black": BLACK,
        "ground": GROUND,
    }
    assert len(entries) == 22
    dists = {
        (a, b): sum(abs(p - q) for p, q in zip(entries[a], entries[b])) for a, b in itertools.combinations(entries, 2)
    }
    closest = min(dists, key=dists.get)
    assert dists[closest] >= 40, f"{closest} only {dists[closest]} apart"


def test_fixed_constants():
    assert world.RGB["orange"] == (245, 140, 20) and world.RGB["brown"] == (130, 80, 30)
    assert len(world.COLORS) == 10 and world.SHAPES == ("square", "circle", "triangle", "cross")
    assert world.SIZES == ("small", "big") and world.TEXTURES == ("solid", "striped", "dotted")
    assert world.BANDS == ("easy", "medium", "hard")
    assert list(world.SUBTASKS) == [
        "single_object",
        "two_object",
        "color_attr",
        "texture",
        "spatial",
        "complex",
        "physics",
        "chemistry",
        "biology",
    ]
    assert [world.SUBTASKS[s] for s in ("color_attr", "complex", "biology")] == ["easy", "medium", "hard"]


def test_mixes_are_order_free():
    assert world.mix("red", "yellow") == world.mix("yellow", "red") == "orange"
    assert world.mix("green", "red") == "brown"
    with pytest.raises(UnigapError):
        world.mix("red", "red")


def test_unknown_subtask_and_band_list_valid_names():
    with pytest.raises(UnigapError) as err:
        world.check_subtask("geometry")
    assert "single_object" in str(err.value) and "biology" in str(err.value)
    with pytest.raises(UnigapError) as err:
        world.check_band("extreme")
    assert "easy, medium, hard" in str(err.value)
    assert world.check_subtask("physics") == "physics"
