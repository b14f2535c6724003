"""The exact ShapeWorld judge: parses the pixels (never the scene) and checks them against a spec."""

from __future__ import annotations

import numpy as np

from unigap.world.match import match
from unigap.world.parse import as_image, parse

STRAY_TOL = 8  # stray pixels tolerated (half a patch) before the image counts as garbled


def oracle(img: np.ndarray, spec: dict) -> tuple[bool, str]:
    """(verdict, reason). True iff the image holds exactly the spec's objects, each meeting its
    constraints under some assignment, with the relation holding on their bboxes. Never raises
    on an image: a malformed one is just False with the reason."""
    arr, why = as_image(img)
    if arr is None:
        return False, why
    found = parse(arr)
    if found.stray > STRAY_TOL:  # garbled image: say so before counting what survived of it
        return False, f"{found.stray} stray pixels (off-palette, or sky/ground mixed)"
    n = len(spec["objects"])
    if len(found.objects) != n:
        return False, f"expected {n} object{'s' * (n != 1)}, found {len(found.objects)}"
    for k, d in enumerate(found.objects):
        if not d.well_formed:
            return False, f"detected object {k} at {d.bbox} is not a clear world object ({_unclear(d)})"
    return match(found.objects, spec)


def _unclear(d: object) -> str:
    return ", ".join(f"{a} unclear" for a in ("shape", "color", "size", "texture") if getattr(d, a) is None)
