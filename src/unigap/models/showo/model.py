"""The Show-o transformer (transformers' PhiForCausalLM) and Show-o's attention masks.

Official: `Showo.showo` is a Phi-1.5 `PhiForCausalLM` whose vocabulary is resized to
text + 10 new special tokens + codebook + 1 mask token (58,498 for the published checkpoints),
run with a hand-made 4D mask: text is causal, the image block (soi .. eoi) attends to every
non-pad position (full attention over text and image), padding is never attended. Position ids
are 0..L-1 over the whole (left-padded) row, as the official model passes none.

QK-LayerNorm is always on: the official models/phi.py sets `config.qk_layernorm = True` in
`PhiForCausalLM.__init__`, whatever Phi-1.5's config.json says (qk_layernorm false), so every
attention layer has `q_layernorm` / `k_layernorm` (LayerNorm over the head dim, weight and bias,
after the q/k projections, before RoPE). transformers' PhiAttention with qk_layernorm=True is the
same computation with the same key names (checked against the official code's logits:
tests/models/showo/test_showo_official.py).

Our module tree: ShowoModel.llm (= official `showo`) and ShowoModel.vq (= the separate
showlab/magvitv2 checkpoint). The key map (loading.py) is just these two prefixes.
Shapes: B rows, L sequence, M image tokens, V vocabulary, C hidden, K codebook.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from unigap.models.showo.magvit import MagvitV2

# Phi-1.5 (microsoft/phi-1_5 config.json): what Show-o's `llm_model_path` resolves to. Its
# qk_layernorm=false is overridden for Show-o (phi_config).
PHI_1_5 = dict(
    vocab_size=51200,
    hidden_size=2048,
    intermediate_size=8192,
    num_hidden_layers=24,
    num_attention_heads=32,
    num_key_value_heads=32,
    hidden_act="gelu_new",
    max_position_embeddings=2048,
    rope_theta=10000.0,
    partial_rotary_factor=0.5,
    layer_norm_eps=1e-5,
    resid_pdrop=0.0,
    embd_pdrop=0.0,
    attention_dropout=0.0,
    qk_layernorm=False,
    tie_word_embeddings=False,
    bos_token_id=50256,
    eos_token_id=50256,
)


def phi_config(llm: dict[str, Any], vocab_size: int) -> Any:
    """PhiConfig from the LLM's config dict, vocabulary resized and QK-LayerNorm on as Show-o's
    PhiForCausalLM does, SDPA attention."""
    from transformers import PhiConfig

    keep = {k: v for k, v in llm.items() if k in PHI_1_5 or k in ("rope_scaling",)}
    cfg = PhiConfig(**{**keep, "vocab_size": vocab_size, "qk_layernorm": True})
    cfg._attn_implementation = "sdpa"
    return cfg


class ShowoModel(nn.Module):
    """All Show-o weights: `llm` (Phi, resized vocab) and `vq` (MAGVIT-v2)."""

    def __init__(self, llm: nn.Module, vq: MagvitV2) -> None:
        super().__init__()
        self.llm, self.vq = llm, vq  # llm: transformers PhiForCausalLM

    @property
    def device(self) -> torch.device:
        return self.llm.lm_head.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.llm.lm_head.weight.dtype

    def hidden(self, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """ids (B, L), bool mask (B, 1, L, L) -> final hidden states (B, L, C)."""
        if positions is None:
            positions = torch.arange(ids.shape[1], device=ids.device)[None].expand(ids.shape[0], -1)
        out = self.llm.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=False)
        return out.last_hidden_state

    def head(self, h: torch.Tensor, lo: int = 0, hi: int | None = None) -> torch.Tensor:
        """Logits of vocabulary rows [lo, hi) only: (B, T, C) -> (B, T, hi - lo)."""
        w, b = self.llm.lm_head.weight[lo:hi], self.llm.lm_head.bias
        return nn.functional.linear(h, w, None if b is None else b[lo:hi])


def attn_mask(allowed: torch.Tensor) -> torch.Tensor:
    """Boolean (B, L, S) 'may attend' -> the 4D mask (B, 1, L, S) transformers passes to SDPA as is
    (True = attend; dtype-free, so it works under bf16 autocast too)."""
    return allowed[:, None]


def t2i_mask(ids: torch.Tensor, pad: int, soi: int, eoi: int) -> torch.Tensor:
    """Show-o's generation mask (create_attention_mask_predict_next, rm_pad_in_image=True) as bool (B, L, L).

    Text rows: causal, not attending padding (pad rows only see earlier pads, so no row is
    empty). Image rows (soi .. eoi inclusive): every non-pad position, both directions.
    """
    B, L = ids.shape
    is_pad = ids == pad
    starts, ends = (ids == soi).cumsum(1), (ids == eoi).cumsum(1)
    in_image = (starts > ends) | (ids == soi) | (ids == eoi)  # (B, L)
    causal = torch.ones(L, L, dtype=torch.bool, device=ids.device).tril()
    text = causal[None] & (~is_pad[:, None, :] | is_pad[:, :, None])  # pads see pads; others skip pads
    image = ~is_pad[:, None, :].expand(B, L, L)
    return torch.where(in_image[:, :, None], image, text)


def mmu_mask(valid: torch.Tensor, prefix_end: torch.Tensor) -> torch.Tensor:
    """Show-o's understanding mask (create_attention_mask_for_mmu) for left-padded rows, bool (B, L, L).

    Causal, except that every row sees the whole prefix up to and including <|eoi|> (so the
    task token, soi and the image block attend to each other fully); padding is never attended
    (a pad row sees only itself). valid (B, L) bool; prefix_end (B,) index of <|eoi|>.
    """
    B, L = valid.shape
    col = torch.arange(L, device=valid.device)
    causal = col[None, :, None] >= col[None, None, :]  # (1, L, L) row >= col
    prefix = col[None, None, :] <= prefix_end[:, None, None]  # (B, 1, L)
    allowed = (causal | prefix) & valid[:, None, :] & valid[:, :, None]
    return allowed | torch.eye(L, dtype=torch.bool, device=valid.device)[None]


def positions_of(valid: torch.Tensor) -> torch.Tensor:
    """Left-padded rows: position 0 at each row's first real token (pads get 0). (B, L) int64."""
    return (valid.long().cumsum(1) - 1).clamp(min=0)
