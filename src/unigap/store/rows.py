"""Rows of the run store: what goes in (CandidateIn) and what comes out (Candidate, JudgmentRow).

The records every layer passes (`Prompt`, `Judgment`) are `unigap.records`; these are the store's own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CandidateIn:
    """One generated candidate, before it is stored.

    prompt_id: the prompt it was sampled for; idx: its index among that prompt's N candidates;
    seed: the sampling seed (unigap.records.candidate_seed); tokens: 1-D int image-token ids
    (stored as int32); image: (H, W, 3) uint8 pixels (stored as a content-hashed PNG).
    """

    prompt_id: str
    idx: int
    seed: int
    tokens: np.ndarray
    image: np.ndarray


@dataclass(frozen=True, eq=False)
class Candidate:
    """A stored candidate.

    id: row id in this run's DB (stable within the run; re-mapped when parts are merged);
    source: which model generated it ("base", "improved", or an audit config's `source`);
    tokens: int64 image-token ids; png: image path relative to the run dir;
    created: unix time the row was written.
    """

    id: int
    source: str
    prompt_id: str
    idx: int
    seed: int
    tokens: np.ndarray
    png: str
    created: float = 0.0

    def _key(self) -> tuple:
        return (self.id, self.source, self.prompt_id, self.idx, self.seed, self.png)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Candidate):
            return NotImplemented
        return self._key() == other._key() and np.array_equal(self.tokens, other.tokens)

    def __hash__(self) -> int:
        return hash(self._key())


@dataclass(frozen=True)
class JudgmentRow:
    """A stored verdict joined with what analysis groups by.

    verdict: 1 match / 0 no match / None no verdict; prob: P(match) or None; raw: the judge's
    raw answer; status: "ok" | "unparsed" | "failed"; error: the failure message.
    prompt_id, subtask, band, source, idx: from the judged candidate and its prompt.
    """

    candidate_id: int
    judge: str
    verdict: int | None
    prob: float | None
    raw: str
    status: str
    error: str | None
    prompt_id: str
    subtask: str
    band: str | None
    source: str
    idx: int
    created: float = 0.0
    score: float | None = None  # a scorer's continuous score (GenEval 0/1, BLIP-VQA, CLIPScore, SciScore)
