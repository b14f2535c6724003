"""`judges: [{name: oracle}]`: the exact ShapeWorld judge, parsing the pixels against the prompt's spec."""

from __future__ import annotations

from typing import Sequence

import torch

from unigap.records import Judgment, Prompt


class OracleJudge:
    name = "oracle"

    def judge(self, images: torch.Tensor, prompts: Sequence[Prompt]) -> list[Judgment]:
        from unigap import world

        out = []
        for img, p in zip(images.numpy(), prompts):
            if p.spec is None:
                out.append(Judgment(None, None, "", "failed", f"prompt {p.id} has no ShapeWorld spec"))
                continue
            ok, reason = world.oracle(img, p.spec)
            out.append(Judgment(int(ok), float(ok), reason))
        return out
