"""The external-judge protocol.

A judge receives images (B, H, W, 3) uint8 with their `Prompt` records and returns one
`Judgment` per image. It never raises for a single bad item: it returns a Judgment with
status "failed" and the message, so a run goes on and counts the failure.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

import torch

from unigap.config import Config
from unigap.records import Judgment, Prompt
from unigap.registry import Registry


class JudgeConfig(Config):
    """One `judges:` entry. `name` is a registry key; `options` go to the judge's constructor."""

    name: str = "oracle"
    options: dict[str, Any] = {}


@runtime_checkable
class ExternalJudge(Protocol):
    name: str  # stored as the judge column, e.g. "oracle", "qwen2.5-vl", "http:gpt-4o"

    def judge(self, images: torch.Tensor, prompts: Sequence[Prompt]) -> list[Judgment]: ...


JUDGES: Registry = Registry("judge")
JUDGES.register_lazy("oracle", "unigap.judges.oracle:OracleJudge")
JUDGES.register_lazy("qwen2.5-vl", "unigap.judges.qwen:QwenJudge")
JUDGES.register_lazy("http", "unigap.judges.http:HttpJudge")
JUDGES.register_lazy("poisoned", "unigap.judges.poisoned:PoisonedJudge")


def load_judge(cfg: JudgeConfig) -> ExternalJudge:
    return JUDGES.get(cfg.name)(**cfg.options)
