"""GRPO rewards: registered names, each a function of one batch of samples -> one float per sample.

  self         P(match) of the current model's own judge: score_probs, P("1") / (P("1") + P("0"))
               after the paper's question and "The score is" (the paper's internal signal, online)
  self-frozen  the same with the base model's weights (a fixed reward model that does not co-adapt)
  dual         SUDER-style dual self-reward: the understanding branch's likelihood of the prompt given
               the image, per word: exp(log p(prompt | image, question) / words), in (0, 1]
  <a judge>    any external judge or scorer of unigap.judges (oracle, geneval, t2i-compbench, sciscore,
               http, qwen2.5-vl, plugins): its `score` where it gives one, else its verdict (0/1)
A reward that is not finite (a judge that failed on a sample) stops training with the prompt's id.
Third parties add rewards by entry point (group `unigap.rewards`): a factory (models, options) -> callable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from pydantic import Field

from unigap.config import Config
from unigap.errors import ConfigError, UnigapError
from unigap.judges.base import JUDGES, JudgeConfig, load_judge
from unigap.models.base import UnifiedModel, supports
from unigap.models.common import eval_mode
from unigap.records import Prompt
from unigap.registry import Registry
from unigap.training.config import RewardConfig
from unigap.verdict import question


@dataclass
class Samples:
    """One batch of generated samples: (B, M) tokens, (B, H, W, 3) uint8 images, their prompts."""

    tokens: torch.Tensor
    images: torch.Tensor
    prompts: Sequence[Prompt]


RewardFn = Callable[[Samples], list[float]]


class Models:
    """The models rewards may use: the policy being trained and, loaded on first use, the frozen base."""

    def __init__(self, policy: UnifiedModel, load_base: Callable[[], UnifiedModel]) -> None:
        self.policy, self._load_base, self._base = policy, load_base, None

    @property
    def base(self) -> UnifiedModel:
        if self._base is None:
            self._base = self._load_base()
            for p in self._base.module().parameters():
                p.requires_grad_(False)
            self._base.module().eval()
        return self._base


def _p_match(model: UnifiedModel, s: Samples) -> list[float]:
    with eval_mode(model.module()), torch.no_grad():
        probs = model.score_probs(s.images, [question(p.text) for p in s.prompts])  # type: ignore[attr-defined]
    return [float(p) for p in probs]


def self_reward(models: Models, options: Any) -> RewardFn:
    return lambda s: _p_match(models.policy, s)


def self_frozen_reward(models: Models, options: Any) -> RewardFn:
    return lambda s: _p_match(models.base, s)


class DualOptions(Config):
    question: str = Field("Describe the image.", min_length=1)  # the instruction the prompt answers


def dual_reward(models: Models, options: DualOptions) -> RewardFn:
    def fn(s: Samples) -> list[float]:
        model = models.policy
        with eval_mode(model.module()), torch.no_grad():
            lp = model.answer_logprobs(
                s.images,
                [options.question] * len(s.prompts),  # type: ignore[attr-defined]
                [p.text for p in s.prompts],
            )
        return [float(torch.exp(v / max(1, len(p.text.split())))) for v, p in zip(lp.float().cpu(), s.prompts)]

    return fn


def judge_reward(cfg: RewardConfig, where: str) -> RewardFn:
    judge = load_judge(JudgeConfig(name=cfg.name, options=cfg.options), where)

    def fn(s: Samples) -> list[float]:
        out = []
        for j in judge.judge(s.images, list(s.prompts)):
            v = j.score if j.score is not None else j.verdict
            out.append(float("nan") if v is None else float(v))
        return out

    return fn


REWARDS: Registry = Registry("reward", group="unigap.rewards")
REWARDS.register("self")(self_reward)
REWARDS.register("self-frozen")(self_frozen_reward)
REWARDS.register("dual", options=DualOptions)(dual_reward)
NEEDS = {"self": "score_probs", "self-frozen": "score_probs", "dual": "answer_logprobs"}  # backend hook each needs


def is_builtin(name: str) -> bool:
    return name in REWARDS


def validate_rewards(rewards: list[RewardConfig], where: str) -> None:
    """Every reward names a registered reward or judge with valid options (before any model loads)."""
    for i, r in enumerate(rewards):
        at = f"{where}[{i}]"
        if is_builtin(r.name):
            REWARDS.validate_options(r.name, r.options, f"{at}.options")
        elif r.name in JUDGES:
            JUDGES.validate_options(r.name, r.options, f"{at}.options")
        else:
            raise ConfigError(
                f"{at}.name: unknown reward {r.name!r}; valid: {', '.join(REWARDS.names())}, "
                f"or a judge: {', '.join(JUDGES.names())}"
            )


def check_reward_model(rewards: list[RewardConfig], model: UnifiedModel, where: str) -> None:
    """A self-reward needs the backend to score text: refuse one whose hook is missing."""
    for i, r in enumerate(rewards):
        hook = NEEDS.get(r.name)
        if hook and not supports(model, hook):
            raise UnigapError(
                f"{where}[{i}]: reward {r.name!r} needs the backend to score text ({hook}), which the "
                f"{model.name!r} backend lacks; use an external judge as the reward"
            )


def check_reward_prompts(rewards: list[RewardConfig], prompts: list[Prompt], where: str) -> None:
    """An external judge that cannot score the run's prompts (no ShapeWorld spec for the oracle, GenEval
    metadata, ...) is refused now, naming the prompt, not at the first step."""
    for i, r in enumerate(rewards):
        if is_builtin(r.name):
            continue
        judge = load_judge(JudgeConfig(name=r.name, options=r.options), f"{where}[{i}]")
        check = getattr(judge, "check_prompts", None)
        if callable(check):
            try:
                check(prompts)
            except UnigapError as err:
                raise UnigapError(f"{where}[{i}] ({r.name}) cannot score the run's prompts: {err}") from None


class Rewards:
    """The weighted reward list of a run: per sample the weighted sum, and each term for the log."""

    def __init__(self, rewards: list[RewardConfig], models: Models, where: str = "improve.grpo.rewards") -> None:
        self.terms: list[tuple[str, float, RewardFn]] = []
        names = [r.name for r in rewards]
        for i, r in enumerate(rewards):
            at, label = f"{where}[{i}]", r.name if names.count(r.name) == 1 else f"{r.name}{i}"
            if is_builtin(r.name):
                opts = REWARDS.validate_options(r.name, r.options, f"{at}.options")
                self.terms.append((label, r.weight, REWARDS.get(r.name)(models, opts)))
            else:
                self.terms.append((label, r.weight, judge_reward(r, at)))

    def __call__(self, s: Samples) -> tuple[list[float], dict[str, list[float]]]:
        parts = {name: fn(s) for name, _, fn in self.terms}
        total = [sum(w * parts[name][k] for name, w, _ in self.terms) for k in range(len(s.prompts))]
        return total, parts
