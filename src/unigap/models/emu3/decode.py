"""Emu3 image-token decoding with a static KV cache (our loop, not transformers' `generate`).

The sequence after the prompt (which ends `<|image start|>H*W<|image token|>`) is H rows of W
visual tokens each closed by the end-of-line token, then end-of-frame, end-of-image, EOS: the
layout transformers' Emu3 docs enforce with `prefix_allowed_tokens_fn`. Here the structure is
known in advance, so the line ends are forced (fed without a model pass choosing them) and only
the H*W visual tokens are sampled, over the visual-token columns of the LM head; the final line
end and the closing tokens are not needed to decode the image and are not run.

Classifier-free guidance follows transformers' `UnbatchedClassifierFreeGuidanceLogitsProcessor`
(its only CFG path for Emu3): scores = log_softmax(cond) and log_softmax(uncond) over the full
vocabulary, guided = s * (cond - uncond) + uncond; the unconditional rows are the negative
prompt, fed the same sampled tokens. Then temperature and top-k (transformers' order), then the
sampler: per-row Gumbel-max noise from one generator per candidate (a row never depends on its
batch), or `multinomial` from the global RNG over the full vocabulary (parity tests only).

Rows: B conditional rows then, with CFG, B unconditional rows, all left-padded into one batch.
Position ids count only real tokens (as transformers derives them from the attention mask).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from unigap.models.janus.decode import GumbelSource, LlamaRunner, left_pad, warp

Sampler = Literal["gumbel", "multinomial"]


@dataclass(frozen=True)
class Layout:
    """Where the visual tokens sit in the generated sequence: H rows of W tokens + an EOL each."""

    height: int
    width: int
    eol: int

    @property
    def num_visual(self) -> int:  # M
        return self.height * self.width

    @property
    def steps(self) -> int:
        """Generated positions up to and including the last visual token."""
        return self.height * (self.width + 1) - 1

    def is_eol(self, t: int) -> bool:
        return t % (self.width + 1) == self.width

    def bpe_rows(self, bpe: Tensor) -> Tensor:
        """(B, M) visual BPE ids -> (B, steps) generated sequence with the line ends in place."""
        rows = bpe.view(bpe.shape[0], self.height, self.width)  # (B, H, W)
        eol = torch.full((bpe.shape[0], self.height, 1), self.eol, dtype=bpe.dtype, device=bpe.device)
        return torch.cat([rows, eol], -1).flatten(1)[:, : self.steps]  # (B, H * (W + 1) - 1)


@dataclass(frozen=True)
class DecodeSettings:
    cfg_scale: float = 3.0
    temperature: float = 1.0
    top_k: int = 0
    sampler: Sampler = "gumbel"

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0

    @property
    def guided(self) -> bool:
        return self.cfg_scale != 1.0


@dataclass
class DecodeResult:
    tokens: Tensor  # (B, M) int64 image tokens: VQ codebook indices (Generation.tokens)
    logprobs: Tensor  # (B, M) float32 log-prob of each under the (guided, warped) sampling distribution


class Emu3Decoder:
    """Generates visual tokens for tokenized prompts with an `Emu3ForConditionalGeneration`."""

    def __init__(self, model: Any, pad: int, layout: Layout) -> None:
        self.model, self.pad, self.layout = model, pad, layout
        self.runner = LlamaRunner(model.model.text_model)
        visual = torch.tensor(model.vocabulary_mapping.image_tokens, dtype=torch.long)  # sorted BPE ids
        bpe2code = model.vocabulary_mapping.bpe2img
        self.visual = visual.to(self.device)  # (V_img,) column j = code bpe2code[visual[j]]
        self.codes = torch.tensor([bpe2code[int(b)] for b in visual], dtype=torch.long).to(self.device)  # (V_img,)
        self.col_of_code = torch.empty_like(self.codes)  # (V_img,) inverse: code -> column
        self.col_of_code[self.codes] = torch.arange(len(self.codes), device=self.device)
        self.vocab = model.config.text_config.vocab_size

    @property
    def device(self) -> torch.device:
        return self.model.lm_head.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.lm_head.weight.dtype

    @torch.no_grad()
    def __call__(
        self, rows: Sequence[Sequence[int]], negative: Sequence[int], seeds: Sequence[int], s: DecodeSettings
    ) -> DecodeResult:
        b, lay = len(rows), self.layout
        all_rows = list(rows) + ([list(negative)] * b if s.guided else [])
        ids, valid = left_pad(all_rows, self.pad)  # (R, P)
        width = ids.shape[1]
        cache = self.runner.new_cache(len(all_rows), width + lay.steps, self.device, self.dtype)
        cos, sin = self.runner.rope_table(width + lay.steps + 1, self.device, self.dtype)
        noise = GumbelSource(seeds, len(self.codes), self.device) if s.sampler == "gumbel" and not s.greedy else None
        cols = torch.empty((b, lay.num_visual), dtype=torch.long, device=self.device)  # (B, M)
        logps = torch.empty((b, lay.num_visual), device=self.device)  # (B, M)
        st = _Stream(ids.to(self.device), valid.to(self.device), cache, cos, sin)
        self._w_vis = self.visual_head()
        h, k = self._prefill(st), 0
        for t in range(lay.steps):
            if t:
                tok = (
                    self.visual[cols[:, k - 1]]
                    if not lay.is_eol(t - 1)
                    else torch.full((b,), lay.eol, device=self.device)
                )
                h = self._step(st, tok.repeat(len(all_rows) // b))
            if lay.is_eol(t):
                self._burn_forced(b, s)
                continue
            cols[:, k], logps[:, k] = self._sample(h, b, s, noise.at(k) if noise is not None else None)
            k += 1
        return DecodeResult(self.codes[cols], logps)

    def _prefill(self, st: _Stream) -> Tensor:
        width = st.ids.shape[1]
        causal = torch.ones((width, width), dtype=torch.bool, device=self.device).tril()
        eye = torch.eye(width, dtype=torch.bool, device=self.device)  # a pad query sees itself: finite outputs
        mask = (causal & st.valid[:, None, :]) | eye  # (R, P, P)
        pos = (st.valid.long().cumsum(-1) - 1).clamp(min=0)  # (R, P)
        h = self.model.get_input_embeddings()(st.ids)  # (R, P, C)
        h = self.runner.forward(
            h, st.cos[pos], st.sin[pos], st.cache, torch.arange(width, device=self.device), mask[:, None], width
        )
        st.pos, st.slot = st.valid.sum(-1), width  # (R,) next position id; next cache slot
        st.keys = torch.cat(
            [
                st.valid,
                torch.zeros(st.valid.shape[0], st.cache[0][0].shape[2] - width, dtype=torch.bool, device=self.device),
            ],
            1,
        )  # (R, L)
        return h[:, -1]  # (R, C)

    def _step(self, st: _Stream, tok: Tensor) -> Tensor:
        """Feed tok (R,) at the next cache slot; returns the new last hidden state (R, C)."""
        st.keys[:, st.slot] = True
        h = self.model.get_input_embeddings()(tok)[:, None]  # (R, 1, C)
        write = torch.tensor([st.slot], device=self.device)
        mask = st.keys[:, None, None, : st.slot + 1]  # (R, 1, 1, keys)
        h = self.runner.forward(h, st.cos[st.pos][:, None], st.sin[st.pos][:, None], st.cache, write, mask, st.slot + 1)
        st.pos, st.slot = st.pos + 1, st.slot + 1
        return h[:, -1]

    def visual_head(self) -> Tensor:
        """The LM-head rows of the visual tokens (V_img, C): a view when their ids are contiguous (hub and
        synthetic checkpoints: they close the vocabulary)."""
        w, first = self.model.lm_head.weight, int(self.visual[0])
        if torch.equal(self.visual.cpu(), torch.arange(first, first + len(self.visual))):
            return w[first : first + len(self.visual)]
        return w[self.visual]

    def _sample(self, hidden: Tensor, b: int, s: DecodeSettings, noise: Tensor | None) -> tuple[Tensor, Tensor]:
        """hidden (R, C) -> visual column (B,) and its log-prob (B,).

        Gumbel and greedy need only the visual columns: the full-vocabulary log-softmax that
        transformers' CFG applies subtracts a per-row constant, which neither the argmax nor the
        softmax over the visual tokens sees. The multinomial (parity) path computes it in full."""
        if s.sampler == "multinomial" and not s.greedy:
            scores = guided_scores(self.model.lm_head(hidden).float(), b, s.cfg_scale)[:, self.visual]  # (B, V_img)
        else:
            scores = guided_raw(torch.nn.functional.linear(hidden, self._w_vis).float(), b, s.cfg_scale)
        scores = warp(scores, s.temperature, s.top_k)  # (B, V_img)
        if s.greedy:
            col = scores.argmax(-1)
        elif s.sampler == "multinomial":
            col = self._multinomial(scores)
        else:
            col = (scores + noise).argmax(-1)
        return col, scores.log_softmax(-1).gather(-1, col[:, None]).squeeze(-1)

    def _multinomial(self, scores: Tensor) -> Tensor:
        """Draw like transformers: softmax over the full vocabulary with -inf outside the visual
        tokens, one torch.multinomial call from the global RNG; mapped back to a visual column."""
        full = torch.full((scores.shape[0], self.vocab), float("-inf"), device=scores.device)
        full[:, self.visual] = scores
        tok = torch.multinomial(full.softmax(-1), 1).squeeze(-1)  # (B,) BPE id
        return torch.searchsorted(self.visual, tok)

    def _burn_forced(self, b: int, s: DecodeSettings) -> None:
        """transformers samples even a forced token: keep the global RNG in step (parity path only)."""
        if s.sampler == "multinomial" and not s.greedy:
            probs = torch.zeros((b, self.vocab), device=self.device)
            probs[:, self.layout.eol] = 1.0
            torch.multinomial(probs, 1)


@dataclass
class _Stream:
    ids: Tensor  # (R, P)
    valid: Tensor  # (R, P) bool
    cache: list[tuple[Tensor, Tensor]]
    cos: Tensor  # (L + 1, D)
    sin: Tensor
    pos: Tensor | None = None  # (R,)
    slot: int = 0
    keys: Tensor | None = None  # (R, L) bool: cache slots a row may attend to


def guided_scores(logits: Tensor, batch: int, cfg_scale: float) -> Tensor:
    """(R, V) logits -> (B, V) transformers-style CFG on log-softmaxed scores; R == B: unguided
    (transformers adds no CFG processor at scale 1: the raw logits go on to the warpers)."""
    if logits.shape[0] == batch:
        return logits
    scores = logits[:batch].log_softmax(-1)
    uncond = logits[batch:].log_softmax(-1)
    return cfg_scale * (scores - uncond) + uncond


def guided_raw(logits: Tensor, batch: int, cfg_scale: float) -> Tensor:
    """guided_scores without the log-softmax constants: (R, V_img) -> (B, V_img), equal up to a per-row shift."""
    if logits.shape[0] == batch:
        return logits
    return cfg_scale * logits[:batch] + (1 - cfg_scale) * logits[batch:]
