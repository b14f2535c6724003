"""`method: grpo`: online GRPO on image tokens with the model's own judge (or any judge) as the reward.

Each optimizer step: for the B = train_batch_size / G prompts of each micro-batch, G candidates from the
current policy with the run's sampling (CFG, temperature, top-k; per-candidate seeds), rewards
(training/rewards.py, a weighted list), advantages normalised within each prompt's group
(r - mean) / (std + 1e-4) (T2I-R1; `scale_rewards: false` = r - mean), then

    loss = mean over all image tokens of the micro-batch of
           -min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A) + beta * k3(ref, policy)
    ratio = exp(log pi(x_t) - log pi_old(x_t)),  k3 = exp(ref - logp) - (ref - logp) - 1

Design (docs/grpo.md has the reasons and the references read):
- CFG: sampling uses the guided distribution; every likelihood in the loss (policy, old, reference)
  is the plain conditional log p(x_t | prompt, x_<t) at temperature 1, as T2I-R1 trains Janus-Pro.
- pi_old is the policy that sampled: with inner_steps = 1 the ratio is exactly 1 (its gradient is
  the policy gradient, clipping inactive, T2I-R1); with inner_steps > 1 the batch is reused and
  clipping bounds the update.
- The reference is the base model (cfg.model, frozen), loaded only when beta > 0 or a reward needs it.
- Backends without per-token log-probs (Show-o, a masked model) use image_logprobs / M as one
  "token": the backend's masked-token likelihood surrogate (deterministic mask draws per (prompt,
  tokens), so policy, old and reference see the same masks).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from unigap.curation.dataset import CuratedData
from unigap.errors import DataError, UnigapError
from unigap.models.base import UnifiedModel, default_sampling, load_model, supports
from unigap.models.common import eval_mode
from unigap.records import Prompt, candidate_seed
from unigap.training.config import EVAL_SPLITS
from unigap.training.losses import group_advantages, grpo_token_loss
from unigap.training.objectives.base import Micro, Objective, Step
from unigap.training.rewards import Models, Rewards, Samples, check_reward_model


def train_prompts(data: CuratedData, data_dir: Any) -> list[Prompt]:
    """The prompts GRPO samples for: the curated prompts (prompts.jsonl, or the source run's store)."""
    from unigap.curation.guard import prompts_of

    prompts = sorted(prompts_of(data, data_dir).values(), key=lambda p: p.id)
    splits = set(data.manifest.get("splits", []))
    return [p for p in prompts if p.split not in EVAL_SPLITS or splits & EVAL_SPLITS]


def available_bytes(device: str) -> int:
    """Free memory on the training device (CUDA: free device memory; else available RAM)."""
    if device.startswith("cuda") and torch.cuda.is_available():
        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def model_dims(model: UnifiedModel) -> tuple[int, int, int]:
    """(hidden size, layers, image vocab) read from the module's config (HF or tiny), with Janus-like defaults."""
    mod = model.module()
    cfgs = [getattr(mod, "cfg", None), getattr(mod, "config", None)]
    for c in list(cfgs):
        for sub in ("text_config", "language_config", "llm_config"):
            cfgs.append(getattr(c, sub, None))
    found: dict[str, int] = {}
    for c in cfgs:
        for key, names in (
            ("h", ("hidden_size", "n_embd")),
            ("l", ("num_hidden_layers", "n_layer")),
            ("v", ("image_vocab", "image_token_size", "codebook_size")),
        ):
            for n in names:
                v = getattr(c, n, None) if c is not None and not isinstance(c, dict) else None
                if isinstance(v, int) and key not in found:
                    found[key] = v
    return found.get("h", 4096), found.get("l", 30), found.get("v", 16384)


def estimate_bytes(model: UnifiedModel, rows: int, prompt_len: int, fp32: bool, checkpointing: bool) -> int:
    """A rough upper bound of one micro-batch's training memory: activations (Korthikanti et al. 2022,
    34 bytes x tokens x hidden per layer in 16-bit; x2 in fp32; / layers with checkpointing) plus the
    image logits, their log-softmax and gradient in fp32."""
    h, layers, v = model_dims(model)
    m = model.num_image_tokens
    act = 34 * (prompt_len + m) * h * (1 if checkpointing else layers) * (2 if fp32 else 1)
    return rows * (act + 12 * m * v)


class GRPO(Objective):
    name = "grpo"
    offline = False

    def __init__(self, cfg: Any, options: Any = None) -> None:
        super().__init__(cfg, options)
        self.opts = cfg.grpo
        self.stats: dict[str, float] = {}

    # --- checks -----------------------------------------------------------------------------
    def check_data(self, data: CuratedData, data_dir: Any) -> None:
        if not train_prompts(data, data_dir):
            raise DataError(f"{data_dir}: no train prompts to sample for (prompts.jsonl is empty)")

    def check_model(self, model: UnifiedModel) -> None:
        check_reward_model(self.opts.rewards, model, "improve.grpo.rewards")
        fp32 = self.cfg.mixed_precision == "no" and self.cfg.model.dtype in ("fp32", "float32", "auto")
        need = estimate_bytes(model, self.cfg.train_batch_size, 64, fp32, self.cfg.gradient_checkpointing)
        have = available_bytes(self.cfg.model.device)
        if need > have:
            b, g = self.cfg.train_batch_size // self.opts.group_size, self.opts.group_size
            raise UnigapError(
                f"grpo: a micro-batch of B x G = {b} x {g} = {self.cfg.train_batch_size} samples needs about "
                f"{need / 2**30:.1f} GiB to train, more than the {have / 2**30:.1f} GiB free on "
                f"{self.cfg.model.device}; lower train_batch_size (raise grad_accum to keep the step), "
                "or set gradient_checkpointing: true / mixed_precision: bf16"
            )

    # --- the run ------------------------------------------------------------------------------
    def resume(self, ctx: Any) -> None:
        cfg, model = self.cfg, ctx.model
        self.prompts = train_prompts(ctx.data, ctx.data_dir)
        self.models = Models(model, lambda: load_model(cfg.model))
        self.rewards = Rewards(self.opts.rewards, self.models)
        self.monitor = None
        if cfg.monitor is not None:
            from unigap.judges.base import load_judge

            self.monitor = load_judge(cfg.monitor, "improve.monitor")
        self.sampling = cfg.sampling or default_sampling(model)
        self.per_token = supports(model, "image_token_logprobs")
        done = len(ctx.st.history.setdefault("steps", []))
        if self.opts.max_steps and done >= self.opts.max_steps:
            ctx.extra["stop"] = True
        if ctx.progress is not None:
            ctx.progress.start("grpo", self.total_steps(), done)

    def per_micro(self) -> int:
        return self.cfg.train_batch_size // self.opts.group_size

    def windows(self) -> list[list[list[int]]]:
        """The optimizer steps of an epoch: windows of micro-batches of prompt indices (order set per epoch)."""
        n, b = len(self.prompts), self.per_micro()
        micro = [list(range(i, min(i + b, n))) for i in range(0, n, b)]
        return [micro[i : i + self.cfg.grad_accum] for i in range(0, len(micro), self.cfg.grad_accum)]

    def total_steps(self) -> int:
        total = len(self.windows()) * self.cfg.epochs
        return min(total, self.opts.max_steps) if self.opts.max_steps else total

    def steps(self, ctx: Any) -> Iterator[Step]:
        from unigap.training.commit import epoch_seed

        st = ctx.st
        order = np.random.default_rng([self.cfg.seed, st.epoch]).permutation(len(self.prompts))
        for s, window in enumerate(self.windows()):
            if s < st.step:
                continue
            if ctx.extra.get("stop"):
                return
            torch.manual_seed(epoch_seed(self.cfg.seed, st.epoch, s))
            self.timing = {"generate": 0.0, "reward": 0.0}
            t0 = time.perf_counter()
            micros = [self.sample(ctx, [int(order[i]) for i in idx], (st.epoch, s, k)) for k, idx in enumerate(window)]
            self.step_log = self.log_row(ctx, s, micros, time.perf_counter() - t0)
            self.t_train = time.perf_counter()
            for it in range(self.opts.inner_steps):
                yield Step(micros, s, last=it == self.opts.inner_steps - 1)

    def sample(self, ctx: Any, prompt_idx: list[int], key: tuple) -> Micro:
        """This process's share of a micro-batch: G candidates per prompt, rewards, group advantages."""
        run, g = ctx.run, self.opts.group_size
        rows = [(i, j) for i in prompt_idx for j in range(g)]
        mine = list(range(run.rank, len(rows), run.world))
        prompts = [self.prompts[rows[k][0]] for k in mine]
        seeds = [candidate_seed(self.cfg.seed, f"{p.id}@grpo{ctx.st.epoch}", rows[k][1]) for p, k in zip(prompts, mine)]
        model, t0 = ctx.model, time.perf_counter()
        with eval_mode(model.module()), torch.no_grad():
            gen = model.generate([p.text for p in prompts], seeds, self.sampling)
        t1 = time.perf_counter()
        samples = Samples(gen.tokens, gen.images, prompts)
        total, parts = self.rewards(samples)
        self.timing["generate"] += t1 - t0
        self.timing["reward"] += time.perf_counter() - t1
        bad = [p.id for p, r in zip(prompts, total) if not math.isfinite(r)]
        if bad:
            raise UnigapError(
                f"grpo: non-finite reward for prompt {bad[0]} (epoch {ctx.st.epoch + 1}, step "
                f"{key[1] + 1}; a judge failed on its sample?); stopped, the last checkpoint is kept"
            )
        everything = dict(zip(run.gather(mine), run.gather(total)))
        rewards = torch.tensor([everything[k] for k in range(len(rows))], dtype=torch.float32)
        adv, std = group_advantages(rewards, g, self.opts.scale_rewards)
        texts = [p.text for p in prompts]
        extra = {
            "tokens": gen.tokens,
            "texts": texts,
            "adv": adv[mine],
            "old": self.logps(model, texts, gen.tokens, no_grad=True) if self.opts.inner_steps > 1 else None,
            "ref": self.ref_logps(texts, gen.tokens),
            "rewards": rewards,
            "std": std,
            "parts": {n: run.gather(v) for n, v in parts.items()},
            "monitor": run.gather(self.monitor_verdicts(samples)),
        }
        return Micro([{"prompt_id": p.id, "prompt": p.text} for p in prompts], mine, len(rows), key, extra=extra)

    def logps(self, model: UnifiedModel, texts: list[str], tokens: torch.Tensor, no_grad: bool = False) -> torch.Tensor:
        """Conditional log-probs (B, T): per token (T = M), or the backend's sequence surrogate / M (T = 1)."""
        with torch.no_grad() if no_grad else torch.enable_grad():
            if self.per_token:
                out = model.image_token_logprobs(texts, tokens).float()  # type: ignore[attr-defined]
            else:
                out = (model.image_logprobs(texts, tokens).float() / model.num_image_tokens)[:, None]
        return out.detach().cpu() if no_grad else out

    def ref_logps(self, texts: list[str], tokens: torch.Tensor) -> torch.Tensor | None:
        if self.opts.beta == 0:
            return None
        return self.logps(self.models.base, texts, tokens, no_grad=True)

    def monitor_verdicts(self, s: Samples) -> list[float]:
        if self.monitor is None:
            return []
        out = []
        for j in self.monitor.judge(s.images, list(s.prompts)):
            v = j.score if j.score is not None else j.verdict
            out.append(float("nan") if v is None else float(v))
        return out

    def loss(self, model: UnifiedModel, micro: Micro) -> torch.Tensor:
        x = micro.extra
        logp = self.logps(model, x["texts"], x["tokens"])
        old = x["old"].to(logp.device) if x["old"] is not None else logp.detach()
        ref = x["ref"].to(logp.device) if x["ref"] is not None else None
        per_tok, kl = grpo_token_loss(logp, old, ref, x["adv"].to(logp.device), self.opts.clip, self.opts.beta)
        self.stats["kl"] = float(kl.mean().detach()) if kl is not None else 0.0
        return per_tok.mean()

    # --- after each step: the log, the progress bar, commits ---------------------------------------
    def log_row(self, ctx: Any, s: int, micros: list[Micro], seconds: float) -> dict:
        rewards = torch.cat([m.extra["rewards"] for m in micros])
        row = {
            "epoch": ctx.st.epoch + 1,
            "step": s + 1,
            "samples": int(rewards.numel()),
            "reward": float(rewards.mean()),
            "reward_std": float(torch.cat([m.extra["std"] for m in micros]).mean()),
        }
        for name in micros[0].extra["parts"]:
            row[f"reward/{name}"] = float(np.mean([v for m in micros for v in m.extra["parts"][name]]))
        mon = [v for m in micros for v in m.extra["monitor"]]
        if mon:
            row[f"monitor/{self.monitor.name}"] = float(np.nanmean(mon))
        # wall times (sample = generate + reward + old / reference log-probs + monitor); train: in after_step
        row["seconds"] = {
            "generate": round(self.timing["generate"], 3),
            "reward": round(self.timing["reward"], 3),
            "sample": round(seconds, 3),
        }
        return row

    def epoch_note(self, ctx: Any) -> str:
        rows = [r for r in ctx.st.history["steps"] if r["epoch"] == ctx.st.epoch]
        return f"{len(rows)} steps, mean reward {np.mean([r['reward'] for r in rows]):.3f}" if rows else "no steps"

    def after_step(self, ctx: Any, step: Step, losses: list[float]) -> bool:
        if not step.last:
            return False
        st = ctx.st
        row = {**self.step_log, "loss": float(np.mean(losses)), "kl": self.stats.get("kl", 0.0)}
        row["seconds"] = {**row["seconds"], "train": round(time.perf_counter() - self.t_train, 3)}
        if ctx.anchors is not None:
            row.update({f"anchor/{k}": v for k, v in ctx.anchors.stats.items()})
        st.history["steps"].append(row)
        st.step = step.index + 1
        if ctx.progress is not None:  # the Bar protocol: update(done, stage) renames the stage with the reward
            mon = next((f", {k.split('/')[1]} {v:.2f}" for k, v in row.items() if k.startswith("monitor/")), "")
            update = getattr(ctx.progress, "update", None)
            if callable(update):
                update(len(st.history["steps"]), f"grpo (reward {row['reward']:.3f}{mon})")
            else:
                ctx.progress.advance(1)
        done = len(st.history["steps"])
        if self.opts.max_steps and done >= self.opts.max_steps:
            ctx.extra["stop"] = True
            return False
        return done % self.opts.save_every == 0 and st.step < len(self.windows())  # the epoch's end commits anyway
