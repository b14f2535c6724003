"""Train/eval contamination: training prompts that also occur in the evaluation set.

Two kinds of match are reported:
- exact: identical text;
- normalised: identical after NFKC, lower-casing, replacing punctuation with spaces and
  collapsing whitespace ("A red car." == "a red car"), but not identical as written.
The real T2I-CompBench spatial train and val files share 2 prompts exactly; a post-training run
on the train split must drop them before evaluating on val (`drop_overlaps`).
"""

from __future__ import annotations

import logging
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

from unigap.records import Prompt

log = logging.getLogger(__name__)
Kind = Literal["exact", "normalised"]


@dataclass(frozen=True)
class Overlap:
    kind: Kind
    train: Prompt
    eval: Prompt


@dataclass(frozen=True)
class Overlaps:
    """Every (train, eval) pair that matches, with the sizes of both sets."""

    pairs: list[Overlap]
    n_train: int
    n_eval: int

    @property
    def exact(self) -> list[Overlap]:
        return [o for o in self.pairs if o.kind == "exact"]

    @property
    def normalised(self) -> list[Overlap]:
        return [o for o in self.pairs if o.kind == "normalised"]

    @property
    def train_ids(self) -> set[str]:
        return {o.train.id for o in self.pairs}

    @property
    def eval_ids(self) -> set[str]:
        return {o.eval.id for o in self.pairs}

    def __len__(self) -> int:
        return len(self.pairs)


def normalise(text: str) -> str:
    """Case-, whitespace- and punctuation-insensitive form of a prompt."""
    text = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return " ".join(kept.split())


def find_overlaps(train: list[Prompt], eval: list[Prompt]) -> Overlaps:
    """All exact and normalised matches between the train and eval prompts (train order)."""
    by_norm: dict[str, list[Prompt]] = defaultdict(list)
    for p in eval:
        by_norm[normalise(p.text)].append(p)
    pairs = [
        Overlap("exact" if t.text == e.text else "normalised", t, e)
        for t in train
        for e in by_norm.get(normalise(t.text), [])
    ]
    return Overlaps(pairs, len(train), len(eval))


def drop_overlaps(train: list[Prompt], eval: list[Prompt], allow: bool = False) -> tuple[list[Prompt], list[Prompt]]:
    """(kept, dropped) training prompts: those matching an eval prompt (exactly or normalised) are dropped.

    allow=True is the explicit opt-out: nothing is dropped (dropped is empty) and a warning
    names how many training prompts overlap the evaluation set.
    """
    bad = find_overlaps(train, eval).train_ids
    if allow:
        if bad:
            log.warning("%d training prompt(s) overlap the evaluation prompts and are kept (allow=True)", len(bad))
        return list(train), []
    return [p for p in train if p.id not in bad], [p for p in train if p.id in bad]


def check_specs(train_spec: str, eval_spec: str, subtasks: list[str] | None = None) -> Overlaps:
    """Load two suite specs (`unigap.prompts.spec`; optionally only some subtasks) and find their overlaps."""
    from unigap.prompts.spec import load_spec

    return find_overlaps(load_spec(train_spec, "train", subtasks), load_spec(eval_spec, "eval", subtasks))
