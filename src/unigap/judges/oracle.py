"""`judges: [{name: oracle}]`: the exact ShapeWorld judge, parsing the pixels against the prompt's spec."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from unigap.records import Judgment, Prompt

if TYPE_CHECKING:
    from unigap.judges.base import JudgeConfig
    from unigap.registry import NoOptions


class OracleJudge:
    name = "oracle"

    def check_prompts(self, prompts: Sequence[Prompt]) -> None:
        """Before any generation: the oracle judges only ShapeWorld prompts (it reads their spec)."""
        from unigap.errors import ConfigError

        bare = [p for p in prompts if p.spec is None]
        if bare:
            ids = ", ".join(p.id for p in bare[:5]) + (f" and {len(bare) - 5} more" if len(bare) > 5 else "")
            raise ConfigError(
                f"judges: the oracle judge needs ShapeWorld prompts (it checks the image against the "
                f"prompt's spec), but {len(bare)} prompt(s) have none ({ids}: suite "
                f"{bare[0].suite!r}). Remove it (judges=[]) or use a judge that reads the text "
                "(qwen2.5-vl, http)"
            )

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


def oracle_judge(cfg: JudgeConfig, options: NoOptions) -> OracleJudge:
    """The registry's factory of `judges: [{name: oracle}]`."""
    return OracleJudge()
