import itertools

import numpy as np

from unigap import world
from unigap.world.scene import Obj, Scene


def test_every_object_kind_parses_back():
    for shape, color, size, texture in itertools.product(world.SHAPES, world.COLORS, world.SIZES, world.TEXTURES):
        obj = Obj(shape, color, size, texture, 4, 8)
        (d,) = world.parse_image(world.render(Scene((obj,))))
        assert (d.shape, d.color, d.size, d.texture, d.bbox) == (shape, color, size, texture, obj.bbox)


def test_small_specks_are_noise():
    img = world.render(Scene())
    img[3:5, 3:5] = world.RGB["blue"]
    assert world.parse_image(img) == []


def test_parse_tolerates_slight_colour_noise():
    rng = np.random.default_rng(0)
    obj = Obj("triangle", "purple", "big", "dotted", 12, 4)
    img = world.render(Scene((obj,))).astype(int) + rng.integers(-8, 9, (32, 32, 3))
    (d,) = world.parse_image(np.clip(img, 0, 255).astype(np.uint8))
    assert (d.shape, d.color, d.texture) == ("triangle", "purple", "dotted")
