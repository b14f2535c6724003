"""The tiny unified model: one transformer trunk shared by generation and understanding.

nanoGPT-style decoder. Text tokens and image tokens (codec ids) share the trunk but have their
own embeddings and heads, as in Janus: `wte_text`/`lm_head` for text, and for image tokens a
vector built from the code's description (like Janus' gen_embed -> gen_aligner, which starts from
the VQ codebook vector) plus a free per-code vector, and a `gen_head` that scores every code by
the same kind of vector. Sharing a description across codes lets "red" be learned once instead of
once per red object.
Ids >= text_vocab in a sequence are image tokens (id - text_vocab = codec id).

Sequences (P = fixed prompt length, M = image tokens):
  generation     [pad.. <bos> <gen> prompt words <boi>] [img_1 .. img_M]          left-padded to P
  understanding  [pad.. <bos> <und> SYSTEM <boi> img_1..img_M <eoi> question] [answer .. <eos>]

Left padding with explicit position ids keeps every row's positions independent of the batch;
padded keys are masked out of attention (each position always sees itself, so no row is empty).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class TinyConfig:
    text_vocab: int
    image_vocab: int
    n_image_tokens: int = 12  # M: the codec's 4 x 3 cells, one token each
    prompt_len: int = 24  # P: generation prompts are left-padded to exactly this length
    block_size: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    feature_dim: int = 25  # size of the codec's per-code description (multi-hot)
    n_special: int = 2  # codes that are not objects (empty, blob): the first level of the gen head

    def to_dict(self) -> dict:
        return asdict(self)


class KVCache:
    """Preallocated keys/values of one layer: (B, nh, T_max, hs)."""

    def __init__(self, b: int, nh: int, t_max: int, hs: int, dtype: torch.dtype, device: torch.device) -> None:
        self.k = torch.zeros(b, nh, t_max, hs, dtype=dtype, device=device)
        self.v = torch.zeros_like(self.k)

    def update(self, k: torch.Tensor, v: torch.Tensor, t0: int) -> tuple[torch.Tensor, torch.Tensor]:
        t1 = t0 + k.shape[2]
        self.k[:, :, t0:t1], self.v[:, :, t0:t1] = k, v
        return self.k[:, :, :t1], self.v[:, :, :t1]


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: TinyConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor, cache: KVCache | None = None, t0: int = 0) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (z.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for z in (q, k, v))  # (B, nh, T, hs)
        if cache is not None:
            k, v = cache.update(k, v, t0)  # (B, nh, t0+T, hs)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)  # (B, nh, T, hs)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, cfg: TinyConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(), nn.Linear(4 * cfg.n_embd, cfg.n_embd)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor, cache: KVCache | None = None, t0: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), mask, cache, t0)
        return x + self.mlp(self.ln_2(x))


def attention_mask(key_ok: torch.Tensor, t0: int, t: int) -> torch.Tensor:
    """Boolean mask (B, 1, t, t0+t): causal, padded keys hidden, every query sees itself."""
    s = t0 + t
    q_pos = torch.arange(t0, s, device=key_ok.device)[:, None]  # (t, 1)
    k_pos = torch.arange(s, device=key_ok.device)[None, :]  # (1, s)
    causal = k_pos <= q_pos  # (t, s)
    mask = causal[None] & key_ok[:, None, :s]  # (B, t, s)
    return (mask | (k_pos == q_pos)[None])[:, None]


def position_ids(key_ok: torch.Tensor) -> torch.Tensor:
    """(B, T) bool -> (B, T) positions counting only real tokens, so left padding changes nothing."""
    return (key_ok.long().cumsum(-1) - 1).clamp(min=0)


class CodeVectors(nn.Module):
    """One vector per code (K, C): a free per-code embedding plus a linear map of the code's
    description (K, feature_dim) from the codec."""

    def __init__(self, cfg: TinyConfig) -> None:
        super().__init__()
        self.free = nn.Embedding(cfg.image_vocab, cfg.n_embd)
        self.desc = nn.Linear(cfg.feature_dim, cfg.n_embd, bias=False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.free.weight + self.desc(features)  # (K, C)


class GenHead(nn.Module):
    """Image-token log-probs (..., K) as a two-level softmax: first what a cell holds (the codec's
    first `n_special` codes, e.g. empty / blob, or an object), then which object.

    With one flat softmax the frequent `empty` code takes almost all the mass, and an object
    target's gradient barely separates the objects from each other; factorising keeps the same
    family of distributions but gives "which object" its own softmax.
    Codes are scored by <proj(h), code vector> + bias.
    """

    def __init__(self, cfg: TinyConfig) -> None:
        super().__init__()
        self.n_special = cfg.n_special
        self.presence = nn.Linear(cfg.n_embd, cfg.n_special + 1)  # special codes, or "an object"
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.codes = CodeVectors(cfg)
        self.bias = nn.Parameter(torch.zeros(cfg.image_vocab))
        self.register_buffer("features", torch.zeros(cfg.image_vocab, cfg.feature_dim))  # (K, F)

    def parts(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log p(what the cell holds) (..., k + 1) and log p(which object | an object) (..., K - k)."""
        k = self.n_special
        presence = self.presence(h).log_softmax(-1)
        which = (self.proj(h) @ self.codes(self.features)[k:].T + self.bias[k:]).log_softmax(-1)
        return presence, which

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        presence, which = self.parts(h)
        k = self.n_special
        return torch.cat([presence[..., :k], presence[..., k:] + which], -1)  # (..., K) log-probs


class TinyUnified(nn.Module):
    def __init__(self, cfg: TinyConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.wte_text = nn.Embedding(cfg.text_vocab, cfg.n_embd)
        self.wte_img = CodeVectors(cfg)  # gen_embed + gen_aligner
        self.wpe_img = nn.Embedding(cfg.n_image_tokens, cfg.n_embd)  # raster index within the image
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.text_vocab, bias=False)
        self.gen_head = GenHead(cfg)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))  # GPT-2 residual scaling

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def components(self) -> dict[str, list[nn.Parameter]]:
        """Parameter groups: `llm` is the shared trunk (the paper trains only this by default)."""
        trunk = [self.wpe, *self.blocks, self.ln_f]
        return {
            "llm": [p for m in trunk for p in m.parameters()],
            "gen_head": list(self.gen_head.parameters()),
            "gen_embed": list(self.wte_img.parameters()) + list(self.wpe_img.parameters()),
            "lm_head": list(self.lm_head.parameters()),
            "text_embed": list(self.wte_text.parameters()),
        }

    def embed(self, ids: torch.Tensor, pos: torch.Tensor, img_idx: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T) mixed text/image ids -> (B, T, C).

        Image tokens also get their raster index in the image (img_idx, default: counted in ids),
        so patch (row, col) means the same in both tasks whatever the text before it.
        """
        v = self.cfg.text_vocab
        is_img = ids >= v
        if img_idx is None:
            img_idx = (is_img.long().cumsum(-1) - 1).clamp(0, self.cfg.n_image_tokens - 1)
        table = self.wte_img(self.gen_head.features)  # (K, C)
        # F.embedding, not table[idx]: its backward is deterministic on CPU (index_put's is not)
        img = F.embedding((ids - v).clamp(min=0), table) + self.wpe_img(img_idx)  # (B, T, C)
        tok = torch.where(is_img[..., None], img, self.wte_text(ids.clamp(max=v - 1)))
        return tok + self.wpe(pos)

    def forward(
        self,
        ids: torch.Tensor,
        key_ok: torch.Tensor,
        caches: list[KVCache] | None = None,
        t0: int = 0,
        img_idx: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Hidden states (B, T, C) of ids (B, T); with caches, ids continue a cached prefix of length t0."""
        B, T = ids.shape
        pos = position_ids(key_ok)[:, t0 : t0 + T]  # (B, T)
        x = self.embed(ids, pos, img_idx)  # (B, T, C)
        mask = attention_mask(key_ok, t0, T)  # (B, 1, T, t0+T)
        for i, block in enumerate(self.blocks):
            x = block(x, mask, caches[i] if caches else None, t0)
        return self.ln_f(x)

    def set_code_features(self, features) -> None:
        """The codec's description of every code (K, F), saved with the weights."""
        self.gen_head.features.copy_(torch.as_tensor(features, dtype=torch.float32))

    def new_caches(self, b: int, t_max: int, like: torch.Tensor) -> list[KVCache]:
        hs = self.cfg.n_embd // self.cfg.n_head
        return [KVCache(b, self.cfg.n_head, t_max, hs, like.dtype, like.device) for _ in self.blocks]

    @torch.no_grad()
    def generate_images(
        self,
        prompt_ids: torch.Tensor,
        key_ok: torch.Tensor,
        noise: torch.Tensor,
        cfg_scale: float = 1.0,
        temperature: float = 1.0,
        top_k: int = 0,
        use_cache: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample image tokens by Gumbel-max with per-row noise; returns tokens and their log-probs.

        prompt_ids/key_ok: (R, P) with R = B (no CFG) or 2B (rows B.. are the unconditional prompts).
        noise: (B, M, K) Gumbel noise, one slab per row, so a row never depends on its batch.
        Returns tokens (B, M) codec ids and log-probs (B, M) under the sampled distribution.
        """
        B, M, _ = noise.shape
        R, P = prompt_ids.shape
        caches = self.new_caches(R, P + M, self.wpe.weight) if use_cache else None
        ok = torch.cat([key_ok, torch.ones(R, M, dtype=torch.bool, device=key_ok.device)], 1)  # (R, P+M)
        ids = prompt_ids
        h = self(ids, ok[:, :P], caches, 0)[:, -1]  # (R, C)
        out, logps = [], []
        for t in range(M):
            logits = self._guided_logits(self.gen_head(h), B, cfg_scale, temperature, top_k)  # (B, K)
            tok = (logits + noise[:, t]).argmax(-1)  # (B,)
            out.append(tok)
            logps.append(logits.log_softmax(-1).gather(-1, tok[:, None])[:, 0])
            nxt = (tok + self.cfg.text_vocab).repeat(R // B)[:, None]  # (R, 1)
            ids = torch.cat([ids, nxt], 1)
            h = self._step(ids, ok, caches, P + t, torch.full((R, 1), t, device=ids.device))
        return torch.stack(out, 1), torch.stack(logps, 1)

    def _step(
        self,
        ids: torch.Tensor,
        ok: torch.Tensor,
        caches: list[KVCache] | None,
        t: int,
        img_idx: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Hidden state (R, C) of the token just appended at position t (cached or full recompute)."""
        if caches is None:
            return self(ids, ok[:, : t + 1])[:, -1]
        return self(ids[:, t:], ok[:, : t + 1], caches, t, img_idx)[:, -1]

    @staticmethod
    def _guided_logits(logits: torch.Tensor, b: int, cfg_scale: float, temperature: float, top_k: int) -> torch.Tensor:
        """(R, K) -> (B, K): CFG mix uncond + s * (cond - uncond), temperature, top-k."""
        if logits.shape[0] > b:
            cond, uncond = logits[:b], logits[b:]
            logits = uncond + cfg_scale * (cond - uncond)
        logits = logits / max(temperature, 1e-6)
        if top_k > 0:
            kth = logits.topk(top_k, -1).values[:, -1:]  # (B, 1)
            logits = logits.masked_fill(logits < kth, float("-inf"))
        return logits

    @torch.no_grad()
    def greedy_text(self, ids: torch.Tensor, key_ok: torch.Tensor, max_new: int, eos: int) -> torch.Tensor:
        """Greedy text continuation of left-padded ids (B, T) -> (B, max_new); after <eos>, <eos>."""
        B, T = ids.shape
        caches = self.new_caches(B, T + max_new, self.wpe.weight)
        ok = torch.cat([key_ok, torch.ones(B, max_new, dtype=torch.bool, device=ids.device)], 1)
        h = self(ids, key_ok, caches, 0)[:, -1]
        out = []
        done = torch.zeros(B, dtype=torch.bool, device=ids.device)
        for t in range(max_new):
            tok = self.lm_head(h).argmax(-1).masked_fill(done, eos)  # (B,)
            done |= tok == eos
            out.append(tok)
            ids = torch.cat([ids, tok[:, None]], 1)
            h = self._step(ids, ok, caches, T + t)
        return torch.stack(out, 1)

    def next_text_logits(self, ids: torch.Tensor, key_ok: torch.Tensor) -> torch.Tensor:
        """Text logits (B, V_text) for the token after left-padded ids (B, T)."""
        return self.lm_head(self(ids, key_ok)[:, -1])

    def image_logprobs(self, prompt_ids: torch.Tensor, key_ok: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced log p(tokens | prompt) per token: prompt (B, P), tokens (B, M) -> (B, M)."""
        B, P = prompt_ids.shape
        ids = torch.cat([prompt_ids, tokens + self.cfg.text_vocab], 1)  # (B, P+M)
        ok = torch.cat([key_ok, torch.ones_like(tokens, dtype=torch.bool)], 1)
        h = self(ids, ok)[:, P - 1 : -1]  # (B, M, C): position P-1 (<boi>) predicts the first image token
        return self.gen_head(h).log_softmax(-1).gather(-1, tokens[..., None])[..., 0]

    def training_losses(
        self,
        ids: torch.Tensor,
        key_ok: torch.Tensor,
        img_tgt: torch.Tensor,
        txt_tgt: torch.Tensor,
        object_weight: float = 1.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-example image loss (mean over positions) and answer CE (summed over tokens): (B,), (B,).

        Image loss = CE of what each cell holds + object_weight x CE of which object, for the cells
        that hold one; each level keeps its own softmax, so the weight changes how fast objects
        are learned, not the distribution the model converges to. The answer is summed: in
        "The score is 1." only the digit is informative, and a mean would shrink its gradient.
        Only positions with a target (-1 = none) go through a head.
        """
        h = self(ids, key_ok)  # (B, T, C)
        img = self._image_nll(h, img_tgt, object_weight)  # (B, T)
        return img.sum(1) / (img_tgt >= 0).sum(1).clamp(min=1), self._masked_ce(h, txt_tgt, self.lm_head).sum(1)

    def _image_nll(self, h: torch.Tensor, tgt: torch.Tensor, object_weight: float) -> torch.Tensor:
        sel = tgt >= 0  # (B, T)
        out = torch.zeros(tgt.shape, dtype=h.dtype, device=h.device)
        if sel.any():
            presence, which = self.gen_head.parts(h[sel])  # (N, k+1), (N, K-k)
            t, k = tgt[sel], self.cfg.n_special
            level1 = presence.gather(-1, t.clamp(max=k)[:, None])[:, 0]  # object codes share slot k
            level2 = which.gather(-1, (t - k).clamp(min=0)[:, None])[:, 0] * (t >= k)
            out[sel] = -(level1 + object_weight * level2)
        return out

    @staticmethod
    def _masked_ce(h: torch.Tensor, tgt: torch.Tensor, head: nn.Module) -> torch.Tensor:
        """(B, T) per-position CE, zero where there is no target."""
        sel = tgt >= 0  # (B, T)
        per_tok = torch.zeros(tgt.shape, dtype=h.dtype, device=h.device)
        if sel.any():
            per_tok[sel] = F.cross_entropy(head(h[sel]), tgt[sel], reduction="none")
        return per_tok
