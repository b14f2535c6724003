"""Pretraining the tiny unified model on ShapeWorld: the config and the training loop.

The data recipe (what a batch holds: generation examples, the paper's question on renders,
counterfactuals and, with `self_play`, the model's own images with the oracle's verdict, plain
questions) is unigap.models.tiny.recipe. From random weights, or from a checkpoint (`init_from`,
e.g. the strong-judge recipe continues the shipped tiny model). The loss is task-balanced: mean image-token
CE over generation examples plus
`und_weight` x mean answer CE over understanding examples; a per-token mean would drown the one
informative answer token under the 12 image tokens.

Eval prompts never appear: every sampled spec whose text is an eval prompt is redrawn.
Resumable, kill -9 included: every `checkpoint_every` steps (and after the last) the weights, the
optimizer, the step, the self-play pool and the RNG states are committed together as OUT/steps/<step>
(the protocol of unigap.training.commit: LATEST names the last complete one), and the data of step s is
drawn from a generator seeded by (seed, s) (pools by (seed, refresh step)), so a resumed run sees
exactly the batches an uninterrupted one would and ends with the same weights. The finished checkpoint
is OUT/model.safetensors + OUT/card.json; rerunning a finished pretraining trains nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
from pydantic import Field

from unigap.config import Config, seed_field, upgraded
from unigap.errors import UnigapError
from unigap.faults import point
from unigap.models.base import SamplingConfig
from unigap.models.tiny.checkpoint import TinyCheckpoint, read_card, save_checkpoint
from unigap.models.tiny.format import TinyFormat
from unigap.models.tiny.model import TinyConfig, TinyUnified
from unigap.models.tiny.recipe import DataSource, build_codec, build_tokenizer, collate, self_play_pool
from unigap.training.commit import CommitDir, rng_state, set_rng_state
from unigap.utils import sha256_file

STATE = "state.pt"
LEGACY_STATE = "pretrain_state.pt"  # the layout before the commit protocol


class ArchConfig(Config):
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    prompt_len: int = 24
    block_size: int = 128
    dropout: float = 0.0


class SelfPlayConfig(Config):
    """Paper-question examples on the model's own images, labelled by the oracle: renders and their
    counterfactuals alone leave the self-judge blind to the near-misses the model itself draws."""

    frac: float = Field(0.0, ge=0.0, le=1.0)  # share of paper-question examples from the pool (0 = off)
    start: int = Field(1000, ge=0)  # first step that draws from the pool
    every: int = Field(125, ge=1)  # steps between pool refreshes (drawn by the current model)
    pool: int = Field(512, ge=1)  # images per refresh
    # Draw a pool example by subtask, then by verdict with P(1) = und_positive_frac, then uniformly:
    # with plain uniform draws the medium band's own images are ~80 % wrong, and the judge learns that
    # base rate ("medium -> 0") instead of telling its near-misses from its hits.
    balance: bool = False


class PretrainConfig(Config):
    """configs/pretrain_tiny.yaml."""

    renamed = {"batch_size": "train_batch_size"}
    seed: int = seed_field()
    world_seed: int = seed_field()  # seed of the train/eval prompt splits
    steps: int = Field(2000, ge=1)
    train_batch_size: int = Field(64, ge=1)  # examples per optimizer step
    lr: float = Field(2e-3, gt=0)
    min_lr: float = Field(2e-4, ge=0)
    warmup: int = Field(100, ge=0)
    weight_decay: float = Field(0.1, ge=0)
    grad_clip: float = Field(1.0, gt=0)
    arch: ArchConfig = ArchConfig()
    gen_frac: float = Field(0.5, ge=0.0, le=1.0)  # share of generation examples per batch
    und_weight: float = Field(1.0, ge=0)
    object_weight: float = 8.0  # weight of "which object" vs "what the cell holds" in the image loss
    cfg_dropout: float = Field(0.1, ge=0.0, le=1.0)  # share of generation examples with the prompt removed (for CFG)
    plain_frac: float = Field(0.25, ge=0.0, le=1.0)  # share of understanding examples that are plain questions
    explain_frac: float = Field(
        0.5, ge=0.0, le=1.0
    )  # share of paper-question answers that describe the image before the score
    negative_counterfactual: float = Field(0.7, ge=0.0, le=1.0)  # share of negatives that are minimal counterfactuals
    und_positive_frac: float = Field(0.5, gt=0.0, lt=1.0)  # share of paper-question examples whose answer is 1
    self_play: SelfPlayConfig = SelfPlayConfig()
    gen_subtask_weights: dict[str, float] = {}  # subtask -> relative weight (default 1)
    und_subtask_weights: dict[str, float] = {}
    checkpoint_every: int = Field(250, ge=1)
    # Continue from a checkpoint instead of random weights: a shipped name ("tiny") or a directory. The
    # strong-judge recipe (configs/pretrain_strong_judge.yaml) is the shipped tiny model + judge training.
    init_from: str | None = None
    snapshots: list[int] = []  # also write a full checkpoint to OUT/step_<k> after step k (a sweep in one run)
    threads: int = Field(0, ge=0)  # torch threads; 0 = torch's default
    sampling: SamplingConfig = SamplingConfig(cfg_scale=3.0)  # recorded in the card as the model's default


def recipe_dict(cfg: PretrainConfig) -> dict:
    """The config as recorded in a card: options left at their "off" default (init_from, snapshots,
    self_play.balance) are omitted, so cards written before those options existed still describe
    their config exactly."""
    out = cfg.model_dump()
    for key, off in (("init_from", None), ("snapshots", [])):
        if out[key] == off:
            del out[key]
    if not out["self_play"]["balance"]:
        del out["self_play"]["balance"]
    return out


def self_play_due(cfg: PretrainConfig, step: int) -> bool:
    sp = cfg.self_play
    return sp.frac > 0 and step >= sp.start and (step - sp.start) % sp.every == 0


def lr_at(cfg: PretrainConfig, step: int) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * min(frac, 1.0)))


def make_optimizer(model: TinyUnified, cfg: PretrainConfig) -> torch.optim.Optimizer:
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    rest = [p for n, p in model.named_parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95))


def new_checkpoint(cfg: PretrainConfig) -> TinyCheckpoint:
    torch.manual_seed(cfg.seed)
    tok, codec = build_tokenizer(cfg.world_seed), build_codec(cfg)
    features = codec.features()
    arch = TinyConfig(
        text_vocab=len(tok),
        image_vocab=codec.size,
        n_image_tokens=codec.num_tokens,
        feature_dim=features.shape[1],
        **cfg.arch.model_dump(),
    )
    model = TinyUnified(arch)
    model.set_code_features(features)
    return TinyCheckpoint(model, tok, codec)


def initial_checkpoint(cfg: PretrainConfig) -> TinyCheckpoint:
    """Random weights, or those of `init_from` (its card's recipe kept as "init" in the new card)."""
    if cfg.init_from is None:
        return new_checkpoint(cfg)
    from unigap.models.tiny.checkpoint import SHIPPED, load_checkpoint, resolve_path

    torch.manual_seed(cfg.seed)
    ckpt = load_checkpoint(cfg.init_from)
    if ckpt.model.cfg.prompt_len != cfg.arch.prompt_len or ckpt.model.cfg.n_embd != cfg.arch.n_embd:
        raise UnigapError(f"init_from {cfg.init_from}: its architecture differs from the config's `arch`")
    path = resolve_path(cfg.init_from)  # a shipped name is recorded package-relative: cards travel between machines
    shown = (
        f"unigap/assets/{cfg.init_from}" if cfg.init_from in SHIPPED and not Path(cfg.init_from).is_dir() else str(path)
    )
    init = {
        "from": cfg.init_from,
        "path": shown,
        "sha256": ckpt.card.get("sha256"),
        "pretrain": ckpt.card.get("pretrain"),
        "steps": ckpt.card.get("steps"),
    }
    ckpt.card = {"init": init}
    return ckpt


# --- the loop ---------------------------------------------------------------------------


def train_step(
    model: TinyUnified, opt: torch.optim.Optimizer, batch: tuple[torch.Tensor, ...], cfg: PretrainConfig, n_gen: int
) -> dict[str, float]:
    ids, ok, img, txt = batch
    gen_ce, txt_ce = model.training_losses(ids, ok, img, txt, cfg.object_weight)
    zero = gen_ce.new_zeros(())
    loss_gen = gen_ce[:n_gen].mean() if n_gen else zero
    loss_und = txt_ce[n_gen:].mean() if n_gen < len(txt_ce) else zero
    loss = loss_gen + cfg.und_weight * loss_und
    if not torch.isfinite(loss):
        raise UnigapError(f"non-finite pretraining loss {loss.item()}; last good state kept")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    opt.step()
    return {"loss": loss.item(), "gen": loss_gen.item(), "und": loss_und.item()}


def checkpoints(out: Path) -> CommitDir:
    return CommitDir(out, "steps")


def save_state(out: Path, ckpt: TinyCheckpoint, opt: torch.optim.Optimizer, step: int, pool: list) -> None:
    """Commit step `step`: weights, optimizer, pool and RNG states in one step dir, then LATEST."""
    cd = checkpoints(out)
    step_dir = cd.begin(step)
    was = ckpt.model.training
    save_checkpoint(ckpt.__class__(ckpt.model.eval(), ckpt.tokenizer, ckpt.codec, dict(ckpt.card)), step_dir / "model")
    ckpt.model.train(was)
    torch.save({"step": step, "optimizer": opt.state_dict(), "pool": pool, "rng": rng_state()}, step_dir / STATE)
    cd.commit(step)


def resume(out: Path, cfg: PretrainConfig) -> tuple[TinyCheckpoint, int, dict | None]:
    """(checkpoint, step, saved state: optimizer, self-play pool, RNG states) of the last commit, or a new model."""
    from unigap.models.tiny.checkpoint import load_checkpoint

    step_dir = checkpoints(out).latest()
    if step_dir is None:
        if (out / LEGACY_STATE).exists():
            raise UnigapError(
                f"{out}: a pretraining checkpoint in the layout of an older unigap ({LEGACY_STATE}); "
                "pretrain into a new --out"
            )
        return initial_checkpoint(cfg), 0, None
    try:
        state = torch.load(step_dir / STATE, weights_only=False)
    except (OSError, RuntimeError, EOFError) as err:
        raise UnigapError(
            f"{step_dir / STATE}: cannot be read ({err}); the checkpoint dir was edited: "
            "restore it, or pretrain into a new --out"
        ) from None
    ckpt = load_checkpoint(step_dir / "model")
    if upgraded(PretrainConfig, ckpt.card.get("pretrain")) != recipe_dict(cfg):
        raise UnigapError(f"{out}: holds a pretraining run with another config; use a new --out")
    ckpt.card = {k: v for k, v in ckpt.card.items() if k not in ("config", "vocab", "codec", "sha256")}
    return ckpt, state["step"], state


Callback = Callable[[int, dict[str, float]], None]


def check_pretrain(cfg: PretrainConfig, out: str | Path) -> None:
    """Before anything is written: --out is not a file, `init_from` is a checkpoint of the config's
    architecture, every snapshot step is a step of the run."""
    from unigap.models.tiny.checkpoint import read_card, resolve_path

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UnigapError(f"--out {out} is a file, not a checkpoint directory; choose another --out")
    if cfg.init_from is not None:
        card = read_card(resolve_path(cfg.init_from))
        arch = card.get("config", {})
        if arch.get("prompt_len") != cfg.arch.prompt_len or arch.get("n_embd") != cfg.arch.n_embd:
            raise UnigapError(f"init_from {cfg.init_from}: its architecture differs from the config's `arch`")
    late = [s for s in cfg.snapshots if not 0 < s <= cfg.steps]
    if late:
        raise UnigapError(f"snapshots: steps {late} are not steps of this run (1..{cfg.steps})")


def pretrain(cfg: PretrainConfig, out: str | Path, on_step: Callback | None = None) -> TinyCheckpoint:
    """Train (or resume) to cfg.steps; the final checkpoint is written to `out`."""
    out = Path(out)
    check_pretrain(cfg, out)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    ckpt, start, state = resume(out, cfg)
    checkpoints(out).clean()  # what a killed process left uncommitted
    ckpt.card.update({"pretrain": recipe_dict(cfg)})
    model = ckpt.model.train()
    opt = make_optimizer(model, cfg)
    data = DataSource(cfg, TinyFormat(ckpt.tokenizer, cfg.arch.prompt_len, ckpt.codec.num_tokens), ckpt.codec)
    if state:
        opt.load_state_dict(state["optimizer"])
        data.pool = state.get("pool", [])
        set_rng_state(state.get("rng"))
    n_gen = int(round(cfg.train_batch_size * cfg.gen_frac))
    t0 = time.time()
    for step in range(start, cfg.steps):
        if self_play_due(cfg, step):
            data.pool = self_play_pool(ckpt, cfg, step, data.excluded)
        for g in opt.param_groups:
            g["lr"] = lr_at(cfg, step)
        stats = train_step(model, opt, collate(data.batch(step), ckpt.tokenizer.pad), cfg, n_gen)
        point("pretrain.step", f"step {step + 1}")
        if on_step:
            on_step(step + 1, stats)
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            save_state(out, ckpt, opt, step + 1, data.pool)
        if step + 1 in cfg.snapshots and step + 1 < cfg.steps:
            save_snapshot(ckpt, cfg, out / f"step_{step + 1}", step + 1, time.time() - t0)
    if start < cfg.steps or not published(out, cfg):
        save_snapshot(ckpt, cfg, out, cfg.steps, time.time() - t0)
    else:
        ckpt.card = read_card(out)
    return ckpt


def published(out: Path, cfg: PretrainConfig) -> bool:
    """Whether OUT holds the finished checkpoint of this config (a rerun of a finished pretraining)."""
    from unigap.errors import CheckpointError
    from unigap.models.tiny.checkpoint import WEIGHTS

    try:
        card = read_card(out)
    except CheckpointError:
        return False
    weights = out / WEIGHTS
    return (
        card.get("steps") == cfg.steps
        and upgraded(PretrainConfig, card.get("pretrain")) == recipe_dict(cfg)
        and weights.is_file()
        and sha256_file(weights) == card.get("sha256")
    )


def save_snapshot(ckpt: TinyCheckpoint, cfg: PretrainConfig, path: Path, steps: int, seconds: float) -> None:
    """A loadable checkpoint of the model after `steps` steps (training mode is restored)."""
    card = {
        **ckpt.card,
        "steps": steps,
        "seeds": {"seed": cfg.seed, "world_seed": cfg.world_seed},
        "sampling": cfg.sampling.model_dump(),
        "train_seconds_this_session": round(seconds, 1),
    }
    was = ckpt.model.training
    saved = save_checkpoint(ckpt.__class__(ckpt.model.eval(), ckpt.tokenizer, ckpt.codec, card), path)
    ckpt.model.train(was)
    if steps == cfg.steps:
        ckpt.card = saved  # the final card, with the weights' sha256
