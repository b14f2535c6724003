"""`judges: [{name: poisoned}]`: deliberately bad self-supervision, for the co-degradation experiment.

It accepts exactly the images the ShapeWorld oracle rejects (those that break the prompt, mostly
by one attribute, relation or rule) and rejects the ones that match. Used as the curation
selector, it feeds the trainer wrong "accepted" images; the data-quality guard must catch it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from unigap.judges.oracle import OracleJudge
from unigap.records import Judgment, Prompt

if TYPE_CHECKING:
    from unigap.judges.base import JudgeConfig
    from unigap.registry import NoOptions


class PoisonedJudge:
    name = "poisoned"

    def judge(self, images: torch.Tensor, prompts: Sequence[Prompt]) -> list[Judgment]:
        out = []
        for j in OracleJudge().judge(images, prompts):
            v = None if j.verdict is None else 1 - j.verdict
            out.append(Judgment(v, None if v is None else float(v), f"inverted oracle: {j.raw}", j.status, j.error))
        return out


def poisoned_judge(cfg: JudgeConfig, options: NoOptions) -> PoisonedJudge:
    """The registry's factory of `judges: [{name: poisoned}]`."""
    return PoisonedJudge()
