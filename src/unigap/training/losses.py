"""Losses: SFT and DPO on image-token log-probabilities (sums over the M tokens of an image), GRPO on
per-token log-probabilities, the judge-KL anchor on P(match) logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sft_loss(logp: torch.Tensor, n_tokens: int) -> torch.Tensor:
    """Image-token NLL per token: logp (B,) summed log-probs -> scalar."""
    return -(logp / n_tokens).mean()


def dpo_loss(
    pol_chosen: torch.Tensor,
    pol_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """Sigmoid DPO (Rafailov et al. 2023, arXiv 2305.18290), all inputs (B,) summed log-probs.

    -log sigmoid(beta * [(pi_c - ref_c) - (pi_r - ref_r)]); equals log 2 when policy == reference.
    """
    margin = (pol_chosen - ref_chosen) - (pol_rejected - ref_rejected)
    return -F.logsigmoid(beta * margin).mean()


def group_advantages(rewards: torch.Tensor, g: int, scale: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """rewards (B * G,), grouped consecutively -> advantages (B * G,) and each group's std (B,)."""
    r = rewards.view(-1, g)
    std = r.std(dim=1)  # unbiased, as torch's default (T2I-R1)
    adv = r - r.mean(dim=1, keepdim=True)
    if scale:
        adv = adv / (std[:, None] + 1e-4)
    return adv.reshape(-1), std


def grpo_token_loss(
    logp: torch.Tensor, old: torch.Tensor, ref: torch.Tensor | None, adv: torch.Tensor, clip: float, beta: float
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-token clipped surrogate + beta * k3 KL: logp/old/ref (B, T), adv (B,) -> (B, T), and the k3 KL (B, T)."""
    ratio = torch.exp(logp - old)
    a = adv[:, None]
    loss = -torch.min(ratio * a, ratio.clamp(1 - clip, 1 + clip) * a)
    if ref is None or beta == 0:
        return loss, None
    d = ref - logp
    kl = torch.exp(d) - d - 1
    return loss + beta * kl, kl


def bernoulli_kl(p0: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """KL(Bern(p0) || Bern(sigmoid(z))) per row; p0 (B,) in [0, 1], z (B,) logits."""
    p0 = p0.clamp(1e-6, 1 - 1e-6)
    return p0 * (p0.log() - F.logsigmoid(z)) + (1 - p0) * ((1 - p0).log() - F.logsigmoid(-z))
