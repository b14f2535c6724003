"""Curation: a run's verdicts -> SFT examples, DPO pairs and a discard pool (paper Alg. 1, §3.2).

Inclusion rules for SFT (the paper does not say which it used; docs/paper-defaults.md):
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

Selection that uses the judge's confidence (needs P(match): `self_judge.mode: prob`, or a selector that
stores probabilities; curation refuses these options without them):
  min_prob     accept only candidates with P(match) >= min_prob (a stricter threshold than the judge's)
  top_k        at most k accepted candidates per prompt, the most confident first
  calibrate    per-band thresholds picked on a held-out labelled sample: a share of each band's prompts
               is set aside, labelled by an external judge stored in the run (e.g. the oracle), and the
               lowest threshold whose acceptance precision on it reaches `target_precision` is used for
               the band (the most precise one when none does); held-out prompts never enter the data
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import Field

from unigap.config import Config, seed_field
from unigap.errors import UnigapError
from unigap.records import Prompt
from unigap.vocab import SELF_JUDGE, SOURCE_BASE

Rule = Literal["all_accepted", "one_per_prompt", "mixed_only"]


class CalibrateConfig(Config):
    """Per-band thresholds on P(match), picked on held-out prompts labelled by an external judge."""

    judge: str = "oracle"  # the labelling judge (its verdicts must be stored in the run)
    fraction: float = Field(0.2, gt=0.0, lt=1.0)  # share of each band's prompts held out as the labelled sample
    target_precision: float = Field(0.8, gt=0.0, le=1.0)
    seed: int = seed_field()


class CurateConfig(Config):
    selector: str = SELF_JUDGE  # any stored judge: "self" (the paper), "oracle" (external-judge-assisted baseline)
    rule: Rule = "mixed_only"
    pairs_per_prompt: int = Field(1, ge=1)
    source: str = SOURCE_BASE
    split: str | None = "train"  # only prompts of this split (None = all); training refuses eval prompts
    min_prob: float | None = Field(None, ge=0.0, le=1.0)  # accept only P(match) >= min_prob (needs probabilities)
    top_k: int | None = Field(None, ge=1)  # at most k accepted candidates per prompt, most confident first
    calibrate: CalibrateConfig | None = None  # per-band thresholds from a held-out labelled sample

    def uses_confidence(self) -> bool:
        return self.min_prob is not None or self.top_k is not None or self.calibrate is not None


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
    thresholds: dict[str, dict] = field(default_factory=dict)  # band -> calibrated threshold (with `calibrate`)
    held_out: list[str] = field(default_factory=list)  # prompt ids of the labelled calibration sample


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


def curate(
    prompts: list[Prompt], scored: list[Scored], cfg: CurateConfig, labels: dict[int, int] | None = None
) -> Curation:
    """`labels`: candidate id -> the calibration judge's verdict (only used with cfg.calibrate)."""
    by_prompt: dict[str, list[Scored]] = defaultdict(list)
    for c in scored:
        by_prompt[c.prompt_id].append(c)
    out = Curation()
    if cfg.uses_confidence():
        require_probs(scored, cfg)
    cutoffs = {}
    if cfg.calibrate is not None:
        out.thresholds, out.held_out = calibrate(prompts, by_prompt, labels or {}, cfg.calibrate)
        cutoffs = {b: t["threshold"] for b, t in out.thresholds.items()}
    held = set(out.held_out)
    for p in prompts:
        if p.id in held:
            continue
        cands = sorted(by_prompt.get(p.id, []), key=lambda c: c.idx)
        acc, rej = split_verdicts(cands, cfg, cutoffs.get(p.band or "-"))
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


# --- confidence-aware selection -------------------------------------------------------------


def require_probs(scored: list[Scored], cfg: CurateConfig) -> None:
    missing = sum(1 for c in scored if c.verdict is not None and c.prob is None)
    if missing:
        raise UnigapError(
            f"curate.min_prob / top_k / calibrate need P(match), but {missing} verdicts of "
            f"{cfg.selector!r} have no probability (parse mode); run with self_judge.mode=prob"
        )


def split_verdicts(cands: list[Scored], cfg: CurateConfig, cutoff: float | None) -> tuple[list[Scored], list[Scored]]:
    """(accepted, rejected) after min_prob, the band's calibrated cutoff and top_k."""
    bounds = [x for x in (cfg.min_prob, cutoff) if x is not None]
    floor = max(bounds) if bounds else None
    acc = [c for c in cands if c.verdict == 1 and (floor is None or c.prob >= floor)]
    rej = [c for c in cands if c.verdict == 0]
    if cfg.top_k is not None:
        acc = sorted(_best_first(acc, True)[: cfg.top_k], key=lambda c: c.idx)
    return acc, rej


def pick_threshold(probs: np.ndarray, labels: np.ndarray, target: float) -> dict:
    """The lowest cutoff on P(match) whose precision on (probs, labels) is >= target (most recall);
    the most precise cutoff when none reaches it. Cutoffs are the observed probabilities."""
    if len(probs) == 0 or not (labels == 1).any():
        return {"threshold": 1.0, "precision": None, "recall": None, "n": int(len(probs)), "reached": False}
    order = np.argsort(-probs, kind="mergesort")
    p, y = probs[order], labels[order]
    last = np.r_[p[1:] != p[:-1], True]  # the last index of each tie group: a cutoff keeps whole groups
    tp = np.cumsum(y == 1)[last]
    k = np.flatnonzero(last) + 1
    prec, cut = tp / k, p[last]
    ok = np.flatnonzero(prec >= target)
    i = int(ok[-1]) if len(ok) else int(np.argmax(prec))
    return {
        "threshold": float(cut[i]),
        "precision": float(prec[i]),
        "recall": float(tp[i] / (y == 1).sum()),
        "n": int(len(probs)),
        "reached": bool(len(ok)),
    }


def calibrate(
    prompts: list[Prompt], by_prompt: dict[str, list[Scored]], labels: dict[int, int], cfg: CalibrateConfig
) -> tuple[dict[str, dict], list[str]]:
    """Per band: hold out `fraction` of its prompts, pick the cutoff on their labelled accepted candidates."""
    if not labels:
        raise UnigapError(f"curate.calibrate: no verdicts of the labelling judge {cfg.judge!r} in this run")
    rng = np.random.default_rng(cfg.seed)
    thresholds, held = {}, []
    for band in dict.fromkeys(p.band or "-" for p in prompts):
        ids = [p.id for p in prompts if (p.band or "-") == band]
        sample = [ids[i] for i in sorted(rng.permutation(len(ids))[: max(1, round(cfg.fraction * len(ids)))])]
        cands = [c for pid in sample for c in by_prompt.get(pid, []) if c.verdict == 1 and c.candidate_id in labels]
        probs = np.array([c.prob for c in cands], dtype=float)
        thresholds[band] = pick_threshold(
            probs, np.array([labels[c.candidate_id] for c in cands]), cfg.target_precision
        )
        held += sample
    return thresholds, held
