"""`unigap improve`: SFT or DPO(+NLL) on curated image tokens, with curriculum replay.

Backend-agnostic: the loop only uses the `UnifiedModel` protocol (image_logprobs, components,
generate/judge for the curriculum, save). Trainable components come from config (`llm` = the
shared trunk, the paper's default); everything else is frozen.

CKPT_DIR/
  model/            the current weights (a checkpoint the backend loads), rewritten each epoch
  state.pt          optimizer state, epoch, the (growing) training data, discard pool, history
  ref_logps.pt      DPO reference log-probs, computed once with the initial model
  train.json        history: losses per epoch, curriculum replays, guard result
A killed run resumes from the last completed epoch and ends with the same weights as an
uninterrupted one (shuffles are seeded by (seed, epoch); no other randomness).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import torch

from unigap.config import Config
from unigap.curation.dataset import CuratedData, load_curated
from unigap.errors import DataError, UnigapError
from unigap.models.base import ModelConfig, SamplingConfig, SelfJudgeConfig, UnifiedModel, default_sampling, load_model
from unigap.training.curriculum import CurriculumConfig, ReplaySettings, probe_acceptance, replay, should_replay
from unigap.training.guard import GuardConfig, run_guard
from unigap.training.losses import dpo_loss, sft_loss

EVAL_SPLITS = {"eval", "val", "test"}


class ImproveConfig(Config):
    """configs/sft_tiny.yaml, configs/dpo_tiny.yaml."""

    method: Literal["sft", "dpo"] = "sft"
    model: ModelConfig = ModelConfig()
    epochs: int = 20
    batch_size: int = 16
    lr: float = 1e-4
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    beta: float = 0.1  # DPO
    nll_weight: float = 1.0  # DPO: weight of the NLL on chosen images (stabilises DPO, paper §3.2)
    trainable: list[str] = ["llm"]
    seed: int = 0
    sampling: SamplingConfig | None = None  # curriculum regeneration; None = the model's default
    self_judge: SelfJudgeConfig = SelfJudgeConfig()
    curriculum: CurriculumConfig = CurriculumConfig()
    guard: GuardConfig = GuardConfig()
    allow_eval_prompts: bool = False


Log = Callable[[str], None]


def check_data(data: CuratedData, cfg: ImproveConfig, data_dir: Path) -> None:
    n = len(data.sft) if cfg.method == "sft" else len(data.pairs)
    if n == 0:
        raise DataError(f"{data_dir}: no {'accepted images' if cfg.method == 'sft' else 'chosen/rejected pairs'} to "
                        f"train on (discard pool: {len(data.discard)} prompts). Try more candidates per prompt (n=), "
                        "rule all_accepted, a higher sampling temperature, or selector oracle.")
    splits = set(data.manifest.get("splits", []))
    if splits & EVAL_SPLITS and not cfg.allow_eval_prompts:
        raise DataError(f"{data_dir}: curated from {sorted(splits & EVAL_SPLITS)} prompts; training refuses "
                        "evaluation prompts (audit the train split, or set allow_eval_prompts: true)")


def check_compatible(data: CuratedData, model: UnifiedModel, data_dir: Path) -> None:
    want, have = data.manifest.get("fingerprint"), model.fingerprint()
    if want and {k: want.get(k) for k in have} != have:
        raise DataError(f"{data_dir}: data was made by model {want}, incompatible with the model being trained {have}")


def freeze(model: UnifiedModel, trainable: list[str]) -> list[torch.nn.Parameter]:
    groups = model.components()
    unknown = [t for t in trainable if t not in groups and t != "all"]
    if unknown:
        raise UnigapError(f"unknown trainable component(s) {unknown}; valid: all, {', '.join(groups)}")
    for p in model.module().parameters():
        p.requires_grad_("all" in trainable)
    params = list(model.module().parameters()) if "all" in trainable else [p for t in trainable for p in groups[t]]
    for p in params:
        p.requires_grad_(True)
    return params


def examples_of(data: CuratedData, method: str) -> list[dict]:
    return data.sft if method == "sft" else data.pairs


def tokens(rows: list[dict], key: str) -> torch.Tensor:
    return torch.tensor([r[key] for r in rows], dtype=torch.long)


def reference_logps(model: UnifiedModel, pairs: list[dict], batch: int) -> dict[str, torch.Tensor]:
    """log pi_ref of every pair's chosen and rejected image, computed once before training."""
    out: dict[str, list[torch.Tensor]] = {"chosen": [], "rejected": []}
    with torch.no_grad():
        for i in range(0, len(pairs), batch):
            rows = pairs[i : i + batch]
            texts = [r["prompt"] for r in rows]
            out["chosen"].append(model.image_logprobs(texts, tokens(rows, "chosen_tokens")))
            out["rejected"].append(model.image_logprobs(texts, tokens(rows, "rejected_tokens")))
    return {k: torch.cat(v) if v else torch.zeros(0) for k, v in out.items()}


def batch_loss(model: UnifiedModel, rows: list[dict], cfg: ImproveConfig, ref: dict[str, torch.Tensor] | None,
               idx: list[int]) -> torch.Tensor:
    texts, m = [r["prompt"] for r in rows], model.num_image_tokens
    if cfg.method == "sft":
        return sft_loss(model.image_logprobs(texts, tokens(rows, "tokens")), m)
    pc = model.image_logprobs(texts, tokens(rows, "chosen_tokens"))
    pr = model.image_logprobs(texts, tokens(rows, "rejected_tokens"))
    loss = dpo_loss(pc, pr, ref["chosen"][idx], ref["rejected"][idx], cfg.beta)
    return loss + cfg.nll_weight * sft_loss(pc, m)


class State:
    """Everything needed to resume: epoch, data (with curriculum additions), pool, history."""

    def __init__(self, examples: list[dict], pool: list[dict]) -> None:
        self.epoch, self.examples, self.pool = 0, examples, pool
        self.history: dict = {"epochs": [], "replays": [], "acceptance": [], "guard": None}
        self.optimizer: dict | None = None
        self.ref: dict[str, torch.Tensor] | None = None

    def save(self, out: Path) -> None:
        tmp = out / "state.pt.tmp"
        torch.save(self.__dict__, tmp)
        tmp.replace(out / "state.pt")
        (out / "train.json").write_text(json.dumps(self.history, indent=2))

    @classmethod
    def load(cls, out: Path) -> "State | None":
        if not (out / "state.pt").exists():
            return None
        s = cls([], [])
        s.__dict__.update(torch.load(out / "state.pt", weights_only=False))
        return s


def train_epoch(model: UnifiedModel, opt: torch.optim.Optimizer, params: list, st: State, cfg: ImproveConfig,
                on_batch: Callable[[int], None] | None) -> float:
    order = np.random.default_rng([cfg.seed, st.epoch]).permutation(len(st.examples))
    losses = []
    model.module().train()
    for i in range(0, len(order), cfg.batch_size):
        idx = order[i : i + cfg.batch_size].tolist()
        loss = batch_loss(model, [st.examples[j] for j in idx], cfg, st.ref, idx)
        if not torch.isfinite(loss):
            raise UnigapError(f"non-finite {cfg.method} loss ({loss.item()}) in epoch {st.epoch + 1}; "
                              "stopped, the last good checkpoint is kept (try a lower lr)")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        losses.append(loss.item())
        if on_batch:
            on_batch(len(idx))
    return float(np.mean(losses))


def replay_settings(cfg: ImproveConfig, model: UnifiedModel, data: CuratedData) -> ReplaySettings:
    rule = (data.manifest.get("curate") or {}).get("rule")
    return ReplaySettings(cfg.seed, cfg.sampling or default_sampling(model), cfg.self_judge,
                          all_accepted=rule == "all_accepted")


def after_epoch(model: UnifiedModel, st: State, cfg: ImproveConfig, settings: ReplaySettings, log: Log) -> None:
    """Curriculum: maybe replay the discard pool with the current model."""
    cur = cfg.curriculum
    if cur.mode == "adaptive" and st.pool:
        probe = [e for e in st.examples][: cur.probe_prompts]
        st.history["acceptance"].append(probe_acceptance(model, probe, settings, st.epoch))
    if not st.pool or not should_replay(cur, st.epoch, st.history["acceptance"], len(st.history["replays"])):
        return
    r = replay(model, st.pool, cur, st.epoch, settings)
    st.examples += r.sft if cfg.method == "sft" else r.pairs
    if cfg.method == "dpo" and r.pairs:
        extra = reference_logps(model, r.pairs, cfg.batch_size)  # pairs found now: reference = current model
        st.ref = {k: torch.cat([st.ref[k], extra[k]]) for k in st.ref}
    gone = set(r.recovered)
    st.pool = [p for p in st.pool if p["prompt_id"] not in gone]
    st.history["replays"].append(r.summary())
    log(f"curriculum replay after epoch {st.epoch}: {len(r.recovered)} of {r.pool_before} pool prompts recovered, "
        f"{len(r.sft) if cfg.method == 'sft' else len(r.pairs)} examples added")


def improve(cfg: ImproveConfig, data_dir: str | Path, out: str | Path, force: bool = False, log: Log = print,
            on_batch: Callable[[int], None] | None = None) -> dict:
    """Train (or resume) and return the history; the improved model is written to out/model."""
    data_dir, out = Path(data_dir), Path(out)
    data = load_curated(data_dir)
    check_data(data, cfg, data_dir)
    out.mkdir(parents=True, exist_ok=True)
    st = State.load(out)
    model = load_model(cfg.model.model_copy(update={"path": str(out / "model")}) if st else cfg.model)
    check_compatible(data, model, data_dir)
    if st is None:
        st = State(list(examples_of(data, cfg.method)), list(data.discard))
        st.history["guard"] = run_guard(cfg.guard, data, data_dir, force, log)
        if cfg.method == "dpo":
            st.ref = reference_logps(model, st.examples, cfg.batch_size)
    torch.manual_seed(cfg.seed)
    params = freeze(model, cfg.trainable)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if st.optimizer:
        opt.load_state_dict(st.optimizer)
    settings = replay_settings(cfg, model, data)
    while st.epoch < cfg.epochs:
        loss = train_epoch(model, opt, params, st, cfg, on_batch)
        st.epoch += 1
        st.history["epochs"].append({"epoch": st.epoch, "loss": loss, "examples": len(st.examples)})
        log(f"epoch {st.epoch}/{cfg.epochs}: loss {loss:.4f} ({len(st.examples)} examples)")
        after_epoch(model, st, cfg, settings, log)
        model.save(out / "model")
        st.optimizer = opt.state_dict()
        st.save(out)
    return st.history


def steps_per_epoch(n: int, batch: int) -> int:
    return math.ceil(n / batch)
