"""ShapeWorld: a synthetic 32x32 world with an exact pixel-parsing oracle.

A seeded spec sampler (9 subtasks in 3 bands), the prompt text of a spec, a scene realiser,
a pure renderer, minimal counterfactuals and other negatives, and the oracle. Importing this
package does no work: caches fill on first use.
"""

from unigap.world.constants import (
    BANDS,
    COLORS,
    DARK,
    MIXES,
    RELATIONS,
    RGB,
    SHAPES,
    SIZES,
    SPLITS,
    SUBTASKS,
    TEXTURES,
    check_band,
    check_split,
    check_subtask,
    mix,
)
from unigap.world.match import satisfies
from unigap.world.negatives import counterfactual, extra_negatives
from unigap.world.oracle import oracle
from unigap.world.parse import Detected, parse_image
from unigap.world.realize import realize
from unigap.world.scene import Obj, Scene, is_valid, render
from unigap.world.specs import prompt_text, sample_spec
from unigap.world.splits import eval_texts, splits

__all__ = [
    "BANDS",
    "COLORS",
    "DARK",
    "MIXES",
    "RELATIONS",
    "RGB",
    "SHAPES",
    "SIZES",
    "SPLITS",
    "SUBTASKS",
    "TEXTURES",
    "Detected",
    "Obj",
    "Scene",
    "check_band",
    "check_split",
    "check_subtask",
    "counterfactual",
    "eval_texts",
    "extra_negatives",
    "is_valid",
    "mix",
    "oracle",
    "parse_image",
    "prompt_text",
    "realize",
    "render",
    "sample_spec",
    "satisfies",
    "splits",
]
