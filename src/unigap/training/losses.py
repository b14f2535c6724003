"""Losses on image-token log-probabilities (sums over the M tokens of an image)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sft_loss(logp: torch.Tensor, n_tokens: int) -> torch.Tensor:
    """Image-token NLL per token: logp (B,) summed log-probs -> scalar."""
    return -(logp / n_tokens).mean()


def dpo_loss(pol_chosen: torch.Tensor, pol_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float) -> torch.Tensor:
    """Sigmoid DPO (Rafailov et al. 2023, arXiv 2305.18290), all inputs (B,) summed log-probs.

    -log sigmoid(beta * [(pi_c - ref_c) - (pi_r - ref_r)]); equals log 2 when policy == reference.
    """
    margin = (pol_chosen - ref_chosen) - (pol_rejected - ref_rejected)
    return -F.logsigmoid(beta * margin).mean()
