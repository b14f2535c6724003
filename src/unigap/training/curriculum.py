"""Curriculum replay (paper Alg. 2): the current model regenerates and rejudges the discard pool.

fixed:    replay once after epoch `epoch` (the paper replays at epoch 10 of 20).
adaptive: after every epoch, a probe of training prompts is regenerated (one candidate each) and
          self-judged; when the acceptance rate gained less than `min_gain` over the last
          `patience` epochs, the model has stopped improving on what it has, so the pool is
          replayed (at most `max_replays` times).
Recovered prompts leave the pool; their accepted candidates join the training data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from pydantic import Field

from unigap.config import Config
from unigap.faults import point
from unigap.models.base import SamplingConfig, SelfJudgeConfig, UnifiedModel
from unigap.records import candidate_seed


class CurriculumConfig(Config):
    mode: Literal["none", "fixed", "adaptive"] = "none"
    epoch: int = Field(10, ge=1)  # fixed: replay after this epoch (1-based, <= improve.epochs)
    n: int = Field(10, ge=1)  # candidates per pool prompt
    min_gain: float = Field(0.01, ge=0.0, le=1.0)  # adaptive trigger
    patience: int = Field(1, ge=1)
    probe_prompts: int = Field(64, ge=1)
    max_replays: int = Field(1, ge=1)


@dataclass
class Replay:
    epoch: int
    pool_before: int
    recovered: list[str] = field(default_factory=list)
    sft: list[dict] = field(default_factory=list)
    pairs: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "epoch": self.epoch,
            "pool_before": self.pool_before,
            "recovered": len(self.recovered),
            "sft_added": len(self.sft),
            "pairs_added": len(self.pairs),
        }


def should_replay(cfg: CurriculumConfig, epoch: int, acceptance: list[float], done: int) -> bool:
    """epoch is 1-based (just finished); acceptance[i] = probe acceptance after epoch i+1."""
    if cfg.mode == "fixed":
        return epoch == cfg.epoch and done == 0
    if cfg.mode != "adaptive" or done >= cfg.max_replays or len(acceptance) <= cfg.patience:
        return False
    return acceptance[-1] - acceptance[-1 - cfg.patience] < cfg.min_gain


def sample_and_judge(
    model: UnifiedModel,
    texts: list[str],
    seeds: list[int],
    sampling: SamplingConfig,
    judge: SelfJudgeConfig,
    batch: int,
) -> tuple[torch.Tensor, list[int | None], list[float | None]]:
    toks, verdicts, probs = [], [], []
    for i in range(0, len(texts), batch):
        gen = model.generate(texts[i : i + batch], seeds[i : i + batch], sampling)
        js = model.judge(gen.images, texts[i : i + batch], judge)
        toks.append(gen.tokens)
        verdicts += [j.verdict for j in js]
        probs += [j.prob for j in js]
        point("curriculum.batch", f"{i + len(js)} of {len(texts)}")
    return torch.cat(toks), verdicts, probs


def replay(model: UnifiedModel, pool: list[dict], cfg: CurriculumConfig, epoch: int, run: ReplaySettings) -> Replay:
    """Regenerate cfg.n candidates per pool prompt with the current model and rejudge them."""
    out = Replay(epoch, len(pool))
    rows = [(p, i) for p in pool for i in range(cfg.n)]
    texts = [p["prompt"] for p, _ in rows]
    seeds = [candidate_seed(run.seed, f"{p['prompt_id']}@replay{epoch}", i) for p, i in rows]
    tokens, verdicts, probs = sample_and_judge(model, texts, seeds, run.sampling, run.judge, run.chunk_size)
    for k, p in enumerate(pool):
        span = range(k * cfg.n, (k + 1) * cfg.n)
        acc = [j for j in span if verdicts[j] == 1]
        rej = [j for j in span if verdicts[j] == 0]
        if not acc:
            continue
        out.recovered.append(p["prompt_id"])
        base = {key: p[key] for key in ("prompt", "prompt_id", "subtask", "band")}
        best = max(acc, key=lambda j: (probs[j] or 0.0, -j))
        out.sft += [{**base, "tokens": tokens[j].tolist()} for j in (acc if run.all_accepted else [best])]
        if rej:
            worst = min(rej, key=lambda j: (probs[j] or 0.0, j))
            out.pairs.append(
                {**base, "chosen_tokens": tokens[best].tolist(), "rejected_tokens": tokens[worst].tolist()}
            )
    return out


@dataclass
class ReplaySettings:
    seed: int
    sampling: SamplingConfig
    judge: SelfJudgeConfig
    chunk_size: int = 64  # candidates per generate + judge call
    all_accepted: bool = False


def probe_acceptance(model: UnifiedModel, prompts: list[dict], run: ReplaySettings, epoch: int) -> float:
    """Self-acceptance of one fresh candidate per probe prompt (the adaptive trigger's signal)."""
    texts = [p["prompt"] for p in prompts]
    seeds = [candidate_seed(run.seed, f"{p['prompt_id']}@probe{epoch}", 0) for p in prompts]
    _, verdicts, _ = sample_and_judge(model, texts, seeds, run.sampling, run.judge, run.chunk_size)
    valid = [v for v in verdicts if v is not None]
    return sum(valid) / len(valid) if valid else 0.0
