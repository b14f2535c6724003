import random

import numpy as np

from unigap import world
from unigap.world.scene import Obj, Scene, free_positions, is_valid


def _scene():
    return Scene((Obj("circle", "red", "big", "striped", 0, 0), Obj("cross", "white", "small", "dotted", 20, 20)))


def test_render_is_deterministic_and_pure():
    scene = _scene()
    np_state, py_state = np.random.get_state()[1].copy(), random.getstate()
    a, b = world.render(scene), world.render(scene)
    assert a.dtype == np.uint8 and a.shape == (32, 32, 3)
    assert a.tobytes() == b.tobytes()
    assert (np.random.get_state()[1] == np_state).all() and random.getstate() == py_state
    a[:] = 7  # a caller scribbling on one render must not leak into the next
    assert world.render(scene).tobytes() == b.tobytes()


def test_render_layout_and_textures():
    img = world.render(_scene())
    assert (img[28:] == 128).all() and (img[:28, 14:18] == 0).all()
    red, dark = np.array(world.RGB["red"]), np.array(world.DARK["red"])
    assert (img[4, 4] == red).all() and (img[5, 4] == dark).all()  # striped: odd rows dark
    white, wdark = np.array(world.RGB["white"]), np.array(world.DARK["white"])
    assert (img[23, 24] == white).all() and (img[23, 23] == wdark).all()  # dotted: odd x and y dark
    assert (world.render(Scene())[:28] == 0).all()


def test_validity_rules():
    assert is_valid(_scene())
    touching = Scene((Obj("square", "red", "small", "solid", 0, 0), Obj("square", "blue", "small", "solid", 8, 0)))
    gap = Scene((Obj("square", "red", "small", "solid", 0, 0), Obj("square", "blue", "small", "solid", 12, 0)))
    assert not is_valid(touching) and is_valid(gap)
    assert not is_valid(Scene((Obj("square", "red", "big", "solid", 0, 20),)))  # into the ground
    assert not is_valid(Scene((Obj("square", "red", "small", "solid", 2, 0),)))  # off the patch grid
    assert len(free_positions(Scene(), None, "small")) == 7 * 6
