import numpy as np

from unigap import world
from unigap.world.grid import make_grid


def test_make_grid_layout():
    rng = np.random.default_rng(0)
    specs = [world.sample_spec("complex", rng) for _ in range(5)]
    images = [world.render(world.realize(s, rng)) for s in specs]
    sheet = make_grid(images, [world.prompt_text(s) for s in specs], scale=4, cols=4)
    assert sheet.mode == "RGB" and sheet.width == 4 * (128 + 12) and sheet.height > 2 * (128 + 12)
    # the first image sits, upscaled, at the top-left of its cell
    px = np.asarray(sheet)[6 : 6 + 128 : 4, 6 : 6 + 128 : 4]
    assert (px == images[0]).all()
