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

from unigap.config import Config
from unigap.records import Judgment
from unigap.registry import Registry

JudgeMode = Literal["parse", "prob"]


class SamplingConfig(Config):
    """Candidate sampling. Defaults follow Janus (cfg 5, temperature 1, no top-k)."""

    cfg_scale: float = 5.0
    temperature: float = 1.0
    top_k: int = 0  # 0 = sample from the full codebook


class SelfJudgeConfig(Config):
    """How the model judges an image against a prompt with the paper's question.

    parse: greedy text answer, verdict from "The score is 0/1" (else leading Yes/No, else unparsed).
    prob:  one forward pass after the answer prefix "The score is"; P("1") vs P("0") > threshold.
    """

    mode: JudgeMode = "parse"
    threshold: float = 0.5
    max_new_tokens: int = 16


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


MODELS: Registry = Registry("model")
MODELS.register_lazy("tiny", "unigap.models.tiny.backend:load_tiny")
MODELS.register_lazy("janus", "unigap.models.janus.backend:load_janus")


class ModelConfig(Config):
    """`model:` section of run configs."""

    name: str = "tiny"
    path: str | None = None  # checkpoint dir / hub id; None = the shipped tiny checkpoint
    device: str = "cpu"
    dtype: str = "auto"  # auto = bf16 on GPU, fp32 on CPU
    batch_size: int = 64
    compile: Literal["none", "cuda_graphs", "torch_compile"] = "none"  # janus decode loop (GPU only)


def load_model(cfg: ModelConfig) -> UnifiedModel:
    return MODELS.get(cfg.name)(cfg)


def default_sampling(model: UnifiedModel) -> SamplingConfig:
    """The backend's recommended sampling (the tiny card records its own), else Janus defaults."""
    return getattr(model, "default_sampling", None) or SamplingConfig()
