"""Understanding rows (MMU) and greedy answering with a KV cache.

The official mmu_generate recomputes the whole sequence each new token; a new token attends to
everything before it and the earlier rows do not change, so caching keys/values gives the same
tokens. Rows are left-padded: pads are never attended and positions start at each row's first
real token, so a row's answer does not depend on its batch.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from unigap.models.showo.model import ShowoModel, attn_mask, mmu_mask, positions_of
from unigap.utils import left_pad


@dataclass
class MmuBatch:
    ids: torch.Tensor  # (B, L) int64
    valid: torch.Tensor  # (B, L) bool
    mask: torch.Tensor  # (B, 1, L, L) bool, True = attend
    positions: torch.Tensor  # (B, L)


def mmu_batch(rows: Sequence[Sequence[int]], pad: int, m: int, dtype: torch.dtype, device: torch.device) -> MmuBatch:
    """Left-padded understanding rows; <|eoi|> sits at index pads + m + 2 of each row."""
    ids, valid = left_pad(rows, pad)
    ids, valid = ids.to(device), valid.to(device)
    eoi = (ids.shape[1] - torch.tensor([len(r) for r in rows], device=device)) + m + 2  # (B,)
    return MmuBatch(ids, valid, attn_mask(mmu_mask(valid, eoi)), positions_of(valid))


def _cache_kw(model: Any) -> str:
    """transformers 5.24 renamed `past_key_values` to `cache`; support both."""
    params = inspect.signature(type(model).forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _cache_of(out: Any) -> Any:
    c = getattr(out, "cache", None)
    return c if c is not None else getattr(out, "past_key_values", None)


@torch.no_grad()
def greedy(model: ShowoModel, b: MmuBatch, max_new: int, eos: int) -> list[list[int]]:
    """Greedy (argmax over the full vocabulary, as the official top_k=1) until EOS or max_new tokens."""
    lm, kw = model.llm.model, _cache_kw(model.llm.model)
    out = lm(input_ids=b.ids, attention_mask=b.mask, position_ids=b.positions, use_cache=True)
    cache, valid, pos = _cache_of(out), b.valid, b.positions[:, -1:]
    new, done = [], torch.zeros(b.ids.shape[0], dtype=torch.bool, device=b.ids.device)
    h = out.last_hidden_state[:, -1:]  # (B, 1, C)
    for _ in range(max_new):
        tok = model.llm.lm_head(h)[:, -1].argmax(-1)  # (B,)
        new.append(tok)
        done |= tok == eos
        if bool(done.all()):
            break
        valid = torch.cat([valid, torch.ones_like(valid[:, :1])], 1)  # (B, S + 1)
        pos = pos + 1
        mask = attn_mask(valid[:, None, :])  # (B, 1, 1, S + 1)
        out = lm(input_ids=tok[:, None], attention_mask=mask, position_ids=pos, use_cache=True, **{kw: cache})
        cache, h = _cache_of(out), out.last_hidden_state
    return [_until_eos(row, eos) for row in torch.stack(new, 1).tolist()]


def _until_eos(row: list[int], eos: int) -> list[int]:
    return row[: row.index(eos)] if eos in row else row


def last_logits(model: ShowoModel, b: MmuBatch) -> torch.Tensor:
    """Next-token logits after each row: (B, V)."""
    h = model.hidden(b.ids, b.mask, b.positions)[:, -1]
    return model.llm.lm_head(h).float()


def teacher_forced(model: ShowoModel, b: MmuBatch, starts: Sequence[int]) -> torch.Tensor:
    """Sum of log p(token | before) over each row's tokens from index starts[i] (unpadded): (B,)."""
    h = model.hidden(b.ids, b.mask, b.positions)  # (B, L, C)
    logp = model.llm.lm_head(h[:, :-1]).float().log_softmax(-1).gather(-1, b.ids[:, 1:, None])[..., 0]  # (B, L-1)
    L = b.ids.shape[1]
    pads = L - b.valid.long().sum(1)  # (B,)
    col = torch.arange(1, L, device=b.ids.device)[None]  # target index of each logp column
    keep = col >= (pads + torch.tensor(list(starts), device=b.ids.device))[:, None]
    return (logp * keep).sum(-1)
