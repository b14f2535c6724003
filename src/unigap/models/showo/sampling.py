"""Show-o's parallel decoding (official Showo.t2i_generate + models/sampling.py), our code.

Per step s = 0..S-1 with r = (s + 1) / S:
  1. one forward over [cond rows; uncond rows] (uncond = the null prompt, same image tokens);
     logits over the K codes at the M image positions; guidance (1 + g)·cond − g·uncond
  2. sample every position from softmax(logits) (Gumbel-max with the candidate's own noise);
     positions already decided keep their token
  3. confidence = log(max(p(sampled), 1e-20)) + T_s · Gumbel, with T_s = T_{s-1} · (1 − r) (the
     official loop rescales its running temperature each step, so it decays as a product),
     T_{-1} = T; decided positions get the largest confidence
  4. n_s = max(1, min(unknown_s − 1, floor(M · cos(π/2 · r)))) per row, unknown_s = positions
     masked when the step began; every position whose confidence is below the (n_s + 1)-th
     smallest stays masked. Without ties that is exactly n_s positions (`mask_lengths`); with
     ties (late steps, where T_s is ~0) fewer, and the next step's n is clamped by what is left,
     as in the official loop. The result is the last step's samples (nothing stays masked).
floor(M · cos(...)) does not depend on the data and is computed on the host before the loop;
the per-row clamp runs on the device: no host sync per step. Every candidate draws its noise
from its own torch.Generator seeded by its seed, so a candidate's tokens do not depend on the
rest of the batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from unigap.errors import UnigapError


def cosine_schedule(r: float) -> float:
    """Mask ratio after a fraction r of the steps (official cosine_schedule, in float32 like the
    official torch.cos of a float32 tensor, so floor(M · ratio) matches it exactly)."""
    return float(torch.cos(torch.tensor(r, dtype=torch.float32) * math.pi * 0.5))


def schedule_floors(m: int, steps: int) -> list[int]:
    """floor(M · cos(π/2 · (s + 1) / S)) per step, in float32 as the official loop computes it."""
    return [
        math.floor(float(m * torch.tensor(cosine_schedule((s + 1) / steps), dtype=torch.float32))) for s in range(steps)
    ]


def mask_lengths(m: int, steps: int) -> list[int]:
    """Tokens left masked after each step when no confidences tie (official mask_len, clamped the same way)."""
    out, unknown = [], m
    for f in schedule_floors(m, steps):
        unknown = max(1, min(unknown - 1, f))
        out.append(unknown)
    return out


def temperatures(t0: float, steps: int) -> list[float]:
    """Confidence-noise temperature used at each step (official running product)."""
    out, t = [], t0
    for s in range(steps):
        t = t * (1.0 - (s + 1) / steps)
        out.append(t)
    return out


def guide(cond: torch.Tensor, uncond: torch.Tensor, g: float) -> torch.Tensor:
    """Show-o / MUSE classifier-free guidance: (1 + g)·cond − g·uncond."""
    return (1 + g) * cond - g * uncond


def gumbel(shape: tuple[int, ...], gens: Sequence[torch.Generator], device: torch.device) -> torch.Tensor:
    """(B, *shape) Gumbel noise, row b from gens[b]."""
    u = torch.stack([torch.rand(shape, generator=g, device=device) for g in gens])
    return -torch.log(-torch.log(u.clamp(1e-20, 1.0 - 1e-7)))


@dataclass
class DecodeSpec:
    steps: int
    guidance: float  # g; 0 = no unconditional rows
    temperature: float
    top_k: int = 0  # 0 = the whole codebook (official)


class NonFiniteLogits(UnigapError):
    def __init__(self, rows: list[int]) -> None:
        super().__init__(f"showo: non-finite logits while decoding rows {rows}")
        self.rows = rows


# logits_fn(image_ids (B, M) in vocabulary space or mask id, guided) -> logits (B, M, K) after guidance
LogitsFn = Callable[[torch.Tensor], torch.Tensor]


def decode(
    logits_fn: LogitsFn,
    m: int,
    mask_id: int,
    offset: int,
    spec: DecodeSpec,
    gens: Sequence[torch.Generator],
    device: torch.device,
) -> torch.Tensor:
    """MaskGIT-style parallel decoding; returns codes (B, M) int64 in 0..K-1."""
    B = len(gens)
    image = torch.full((B, m), mask_id, dtype=torch.long, device=device)  # vocabulary ids or mask
    bad = torch.zeros(B, dtype=torch.bool, device=device)
    sampled = image
    for f, t in zip(schedule_floors(m, spec.steps), temperatures(spec.temperature, spec.steps)):
        logits = logits_fn(image).float()  # (B, M, K)
        bad |= ~torch.isfinite(logits).all(-1).all(-1)
        logits = torch.nan_to_num(logits, nan=0.0)
        if spec.top_k:
            kth = logits.topk(spec.top_k, -1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        unknown = image == mask_id  # (B, M)
        draw = (logits + gumbel(tuple(logits.shape[1:]), gens, device)).argmax(-1)  # (B, M) codes
        sampled = torch.where(unknown, draw, image - offset)
        p = logits.softmax(-1).gather(-1, sampled.clamp(min=0)[..., None])[..., 0]  # (B, M)
        conf = torch.where(unknown, p.clamp(min=1e-20).log() + t * gumbel((m,), gens, device), torch.finfo(p.dtype).max)
        n = (unknown.sum(-1, keepdim=True) - 1).clamp(max=f).clamp(min=1)  # (B, 1) official mask_len
        cut = conf.sort(-1).values.gather(-1, n)  # (B, 1) the (n + 1)-th smallest confidence
        image = torch.where(conf < cut, mask_id, sampled + offset)
    if bool(bad.any()):  # the one host sync, after the loop
        raise NonFiniteLogits(bad.nonzero()[:, 0].tolist())
    return sampled
