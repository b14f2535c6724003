"""The protocol every unified-model backend implements.

Shapes: B = batch rows, M = image tokens per image (tiny: 64, Janus-Pro: 576), H x W images.
Images cross this boundary as uint8 tensors (B, H, W, 3); tokens as int64 (B, M).
Models return tensors; they never write files (the store does).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, Sequence, runtime_checkable

import torch
from torch import nn

from pydantic import BaseModel, Field

from unigap.config import Config
from unigap.records import Judgment
from unigap.registry import Registry

JudgeMode = Literal["parse", "prob"]


class SamplingConfig(Config):
    """Candidate sampling. Defaults follow Janus (cfg 5, temperature 1, no top-k)."""

    cfg_scale: float = Field(5.0, ge=0.0)
    temperature: float = Field(1.0, gt=0.0)
    top_k: int = Field(0, ge=0)  # 0 = sample from the full codebook


class SelfJudgeConfig(Config):
    """How the model judges an image against a prompt with the paper's question.

    parse: greedy text answer, verdict from "The score is 0/1" (else leading Yes/No, else unparsed).
    prob:  one forward pass after the answer prefix "The score is"; P("1") vs P("0") > threshold.
    """

    mode: JudgeMode = "parse"
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    max_new_tokens: int = Field(16, ge=1)


@dataclass
class Generation:
    tokens: torch.Tensor  # (B, M) int64 image-token ids
    images: torch.Tensor  # (B, H, W, 3) uint8


@runtime_checkable
class UnifiedModel(Protocol):
    """A model that both generates images from text and judges images against text."""

    name: str
    num_image_tokens: int  # M

    def generate(self, prompts: Sequence[str], seeds: Sequence[int], sampling: SamplingConfig) -> Generation:
        """One candidate per row: row i samples from prompt i with a generator seeded by seeds[i].

        The result of a row depends only on (prompt, seed, sampling), never on the batch.
        """
        ...

    def judge(self, images: torch.Tensor, prompts: Sequence[str], cfg: SelfJudgeConfig) -> list[Judgment]:
        """Self-judgment of images (B, H, W, 3) uint8 against prompts, raw answer text kept."""
        ...

    def answer(self, images: torch.Tensor, questions: Sequence[str], max_new_tokens: int = 16) -> list[str]:
        """Greedy free-text answers to questions about images (B, H, W, 3)."""
        ...

    def image_logprobs(self, prompts: Sequence[str], tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced log p(tokens | prompt), conditional (no CFG): (B, M) int64 -> (B,) float.

        Differentiable: training (SFT/DPO) backpropagates through it.
        """
        ...

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Image tokens (B, M) -> uint8 images (B, H, W, 3)."""
        ...

    def module(self) -> nn.Module:
        """The torch module holding all weights (what the trainer optimises)."""
        ...

    def components(self) -> dict[str, list[nn.Parameter]]:
        """Named parameter groups for `trainable:` ("llm" = shared trunk, "gen_head", ...)."""
        ...

    def fingerprint(self) -> dict[str, Any]:
        """What makes stored tokens compatible: backend name, codec/tokenizer hash, M."""
        ...

    def save(self, path: Path) -> None:
        """Write a loadable checkpoint directory."""
        ...


@runtime_checkable
class TrainableModel(UnifiedModel, Protocol):
    """Optional hooks a backend may add; `improve` and the analyses check for them with isinstance-free
    `supports(model, "hook")` and give a clear error when a config needs one the backend lacks.

    default_sampling: SamplingConfig  -- the backend's recommended sampling (tiny: from its card)
    """

    def apply_lora(self, r: int, alpha: float, target_modules: Sequence[str] | None, dropout: float) -> list[nn.Parameter]:
        """Wrap the language model with PEFT LoRA; returns the adapter parameters (the only trainable ones)."""
        ...

    def enable_gradient_checkpointing(self) -> None: ...

    def answer_logprobs(self, images: torch.Tensor, questions: Sequence[str], answers: Sequence[str]) -> torch.Tensor:
        """Teacher-forced log p(answer | image, question): (B,) float, differentiable (und_weight)."""
        ...

    def score_probs(self, images: torch.Tensor, questions: Sequence[str]) -> list[float]:
        """Prob mode: P("1") / (P("1") + P("0")) after the answer prefix, one per row."""
        ...

    def weights_sha256(self) -> str | None: ...

    def image_loss(self, prompts: Sequence[str], tokens: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The backend's own SFT objective on image tokens (B, M) -> scalar, when it is not -log p (Show-o:
        masked-token cross-entropy with mask ratios from its schedule). Without it SFT uses image_logprobs."""
        ...


    def image_token_logprobs(self, prompts: Sequence[str], tokens: torch.Tensor) -> torch.Tensor:
        """Per-token teacher-forced log p(token_i | prompt, tokens_<i), conditional (no CFG): (B, M), differentiable.
        GRPO's per-token ratio and KL use it; without it (Show-o) GRPO works on image_logprobs / M."""
        ...


HOOKS = ("apply_lora", "enable_gradient_checkpointing", "answer_logprobs", "score_probs", "weights_sha256", "image_loss",
         "image_token_logprobs")


def supports(model: object, hook: str) -> bool:
    """Whether `model` implements the optional `TrainableModel` hook `hook`."""
    if hook not in HOOKS:
        raise ValueError(f"{hook!r} is not a TrainableModel hook; hooks: {', '.join(HOOKS)}")
    return callable(getattr(model, hook, None))


MODELS: Registry = Registry("model", group="unigap.models")
MODELS.register_lazy("tiny", "unigap.models.tiny.backend:load_tiny",
                     synthetic="unigap.models.tiny.checkpoint:write_synthetic")
MODELS.register_lazy("janus", "unigap.models.janus.backend:load_janus",
                     synthetic="unigap.models.janus.synthetic:write_synthetic")
MODELS.register_lazy("emu3", "unigap.models.emu3.backend:load_emu3", options="unigap.models.emu3.options:Emu3Options",
                     synthetic="unigap.models.emu3.synthetic:write_synthetic")
MODELS.register_lazy("served", "unigap.models.served.backend:load_served",
                     options="unigap.models.served.options:ServedOptions")
MODELS.register_lazy("showo", "unigap.models.showo.backend:load_showo", options="unigap.models.showo.options:ShowoOptions", synthetic="unigap.models.showo.synthetic:write_synthetic")


class ModelConfig(Config):
    """`model:` section of run configs. `options` are the backend's own (see `unigap plugins`)."""

    name: str = "tiny"
    path: str | None = None  # checkpoint dir / hub id; None = the backend's default (tiny: the shipped checkpoint)
    device: str = "cpu"
    dtype: Literal["auto", "float32", "fp32", "bfloat16", "bf16", "float16", "fp16"] = "auto"  # auto = bf16 on GPU, fp32 on CPU
    batch_size: int = Field(64, ge=1)
    # janus decode loop (GPU only); "none" falls back to $UNIGAP_JANUS_COMPILE when that is set
    compile: Literal["none", "cuda_graphs", "torch_compile"] = "none"
    options: dict[str, Any] = {}


def model_options(cfg: ModelConfig, where: str = "model") -> BaseModel:
    """The backend's typed options, validated (errors name `where`.options.KEY and the valid keys)."""
    return MODELS.validate_options(cfg.name, cfg.options, f"{where}.options")


def check_device(device: str, where: str = "model.device") -> None:
    """The device must exist on this machine, for every backend (a backend that ignored it ran on the CPU
    and stored `device: cuda`; another raised late). ConfigError naming `where` otherwise."""
    from unigap.errors import ConfigError

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ConfigError(f"{where}: {device!r} is not a torch device ({err}); use cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"{where}: {device!r}, but torch sees no GPU here (torch {torch.__version__}, "
                              "torch.cuda.is_available() is False); use model.device=cpu")
        if dev.index is not None and dev.index >= count:
            raise ConfigError(f"{where}: {device!r}, but this machine has {count} GPU(s) (cuda:0..cuda:{count - 1})")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"{where}: 'mps', but torch has no MPS device here; use model.device=cpu")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"{where}: unsupported device {device!r}; use cpu, cuda or cuda:N")


def load_model(cfg: ModelConfig, where: str = "model") -> UnifiedModel:
    check_device(cfg.device, f"{where}.device")
    return MODELS.get(cfg.name)(cfg, model_options(cfg, where))


def default_sampling(model: UnifiedModel) -> SamplingConfig:
    """The backend's recommended sampling (the tiny card records its own), else Janus defaults."""
    return getattr(model, "default_sampling", None) or SamplingConfig()
