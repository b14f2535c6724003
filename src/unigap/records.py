"""Plain records passed between stages. JSON-serialisable; tensors never live here."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from unigap.vocab import BANDS  # noqa: F401  (re-exported: one definition for every layer)

Status = Literal["ok", "unparsed", "failed"]


@dataclass(frozen=True)
class Prompt:
    """One text prompt of a suite.

    `spec` is the machine-readable content that an exact oracle checks (ShapeWorld); real
    benchmarks leave it None and keep their own fields in `metadata` (e.g. GenEval's include).
    """

    id: str
    text: str
    subtask: str
    split: str
    suite: str
    band: str | None = None
    spec: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Judgment:
    """A judge's verdict on one (image, prompt) pair.

    verdict: 1 = the image matches the prompt, 0 = it does not, None = no verdict
    (status "unparsed": the answer had no score; status "failed": the judge raised).
    prob: P(match) where the judge gives one (prob mode, oracle gives 0/1).
    raw: the judge's raw text answer (or the oracle's reason), always kept.
    score: a benchmark scorer's continuous score (GenEval 0/1, BLIP-VQA product, CLIPScore, SciScore).
    """

    verdict: int | None
    prob: float | None = None
    raw: str = ""
    status: Status = "ok"
    error: str | None = None
    score: float | None = None


def candidate_seed(run_seed: int, prompt_id: str, index: int) -> int:
    """The sampling seed of candidate `index` of a prompt: stable across runs and batchings."""
    digest = hashlib.sha256(f"{run_seed}|{prompt_id}|{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF
