"""Curation: a run's verdicts -> SFT examples, DPO pairs and a discard pool (paper Alg. 1, §3.2).

Inclusion rules for SFT (paper.md "Open gaps" 3; the paper does not say which it used):
  all_accepted    every accepted candidate of every prompt
  one_per_prompt  one accepted candidate per prompt (the lowest index, or the most confident in prob mode)
  mixed_only      one accepted candidate per prompt that has at least one accepted AND one rejected
                  candidate (only prompts that show an internal gap; the rule whose counts best fit the
                  paper's 2,265 samples at N=10 vs 254 at N=2)
DPO pairs: chosen = accepted, rejected = rejected; `pairs_per_prompt` pairs per mixed prompt; with
probabilities (prob mode, or any judge that stores one) the most confident accepted candidate is
paired with the least confident rejected one, else lowest indices first.
Discard pool: prompts with no accepted candidate (replayed by the curriculum).
Candidates without a verdict (unparsed/failed) are neither accepted nor rejected.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

from unigap.config import Config
from unigap.records import Prompt

Rule = Literal["all_accepted", "one_per_prompt", "mixed_only"]


class CurateConfig(Config):
    selector: str = "self"  # any stored judge: "self" (the paper), "oracle" (external-judge-assisted baseline)
    rule: Rule = "mixed_only"
    pairs_per_prompt: int = 1
    source: str = "base"
    split: str | None = "train"  # only prompts of this split (None = all); training refuses eval prompts


@dataclass(frozen=True)
class Scored:
    """One candidate with the selector's verdict."""

    candidate_id: int
    prompt_id: str
    idx: int
    verdict: int | None
    prob: float | None


@dataclass
class Curation:
    sft: list[Scored] = field(default_factory=list)
    pairs: list[tuple[Scored, Scored]] = field(default_factory=list)
    discard: list[str] = field(default_factory=list)  # prompt ids
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # subtask -> counts


def _confidence(c: Scored) -> float:
    return c.prob if c.prob is not None else float(c.verdict or 0)


def _best_first(items: list[Scored], accepted: bool) -> list[Scored]:
    """Most confident accepts first / least confident rejects first; ties by candidate index."""
    sign = -1.0 if accepted else 1.0
    return sorted(items, key=lambda c: (sign * _confidence(c), c.idx))


def select_sft(acc: list[Scored], rej: list[Scored], rule: Rule) -> list[Scored]:
    if not acc or (rule == "mixed_only" and not rej):
        return []
    return list(acc) if rule == "all_accepted" else _best_first(acc, True)[:1]


def select_pairs(acc: list[Scored], rej: list[Scored], k: int) -> list[tuple[Scored, Scored]]:
    return list(zip(_best_first(acc, True), _best_first(rej, False)))[:k]


def curate(prompts: list[Prompt], scored: list[Scored], cfg: CurateConfig) -> Curation:
    by_prompt: dict[str, list[Scored]] = defaultdict(list)
    for c in scored:
        by_prompt[c.prompt_id].append(c)
    out = Curation()
    for p in prompts:
        cands = sorted(by_prompt.get(p.id, []), key=lambda c: c.idx)
        acc = [c for c in cands if c.verdict == 1]
        rej = [c for c in cands if c.verdict == 0]
        sft, pairs = select_sft(acc, rej, cfg.rule), select_pairs(acc, rej, cfg.pairs_per_prompt)
        out.sft += sft
        out.pairs += pairs
        if cands and not acc:
            out.discard.append(p.id)
        _count(out.counts, p.subtask, len(cands), len(acc), len(sft), len(pairs), bool(cands and not acc))
    return out


def _count(counts: dict, subtask: str, n: int, acc: int, sft: int, pairs: int, discarded: bool) -> None:
    c = counts.setdefault(subtask, {"prompts": 0, "candidates": 0, "accepted": 0, "sft": 0, "pairs": 0, "discard": 0})
    c["prompts"] += 1
    c["candidates"] += n
    c["accepted"] += acc
    c["sft"] += sft
    c["pairs"] += pairs
    c["discard"] += int(discarded)
