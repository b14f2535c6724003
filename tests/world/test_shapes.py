import itertools

import numpy as np
import pytest

from unigap import world
from unigap.world.parse import SHAPE_IOU, components
from unigap.world.shapes import bitmap, iou


@pytest.mark.parametrize("side", [8, 12])
def test_bitmaps_are_connected_and_fill_their_box(side):
    for shape in world.SHAPES:
        mask = bitmap(shape, side)
        assert mask.shape == (side, side)
        assert len(np.unique(components(mask)[mask])) == 1, shape
        # touching all four sides makes the pixel bbox the placement box
        assert mask[0].any() and mask[-1].any() and mask[:, 0].any() and mask[:, -1].any(), shape


@pytest.mark.parametrize("side", [8, 12])
def test_bitmaps_are_pairwise_distinct(side):
    worst = max(iou(bitmap(a, side), bitmap(b, side)) for a, b in itertools.combinations(world.SHAPES, 2))
    # the small circle vs the small square (0.81) is the closest pair an 8-px circle allows
    assert worst <= 0.82 < SHAPE_IOU


def test_triangle_points_up_and_bitmaps_are_read_only():
    tri = bitmap("triangle", 12)
    assert tri[0].sum() == 2 and tri[-1].sum() == 12
    with pytest.raises(ValueError):
        tri[0, 0] = True
