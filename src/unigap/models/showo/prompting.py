"""Show-o's special tokens and sequence layouts (official training/prompting_utils.py
UniversalPrompting, inference_t2i.py, inference_mmu.py), written from scratch.

Vocabulary (published checkpoints): Phi-1.5 text tokens 0..50,294 (len = llm_vocab_size), then
"[PAD]" and 9 task tokens added in this order (the 10 `num_new_special_tokens`), then the K image
codes, then the mask token (vocab_size - 1). <|sot|> / <|eot|> are the text tokenizer's BOS / EOS
(Phi-1.5: both <|endoftext|>).

  t2i: [pad]* <|t2i|> <|sot|> text <|eot|> <|soi|> image(M) <|eoi|>    text part left-padded to
       max_text_len + 1 tokens; longer text truncated to that width with <|eot|> kept last
  mmu: <|mmu|> <|soi|> image(M) <|eoi|> <|sot|> "USER: \\n" question " ASSISTANT:"  -> answer ... <|eot|>
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

log = logging.getLogger(__name__)

PAD = "[PAD]"
TASK_TOKENS = ("<|soi|>", "<|eoi|>", "<|sov|>", "<|eov|>", "<|t2i|>", "<|mmu|>", "<|t2v|>", "<|v2v|>", "<|lvg|>")
NUM_NEW_SPECIAL = 1 + len(TASK_TOKENS)  # [PAD] + 9
MMU_USER, MMU_ASSISTANT = "USER: \n", " ASSISTANT:"


def add_special_tokens(tokenizer: Any) -> None:
    """What UniversalPrompting does to the Phi tokenizer: [PAD] as pad token, then the task tokens."""
    if tokenizer.convert_tokens_to_ids(PAD) in (None, tokenizer.unk_token_id) or tokenizer.pad_token != PAD:
        tokenizer.add_special_tokens({"pad_token": PAD})
    tokenizer.add_tokens(list(TASK_TOKENS))


@dataclass(frozen=True)
class Layout:
    """Token ids of a Show-o vocabulary and the sequence builders."""

    tokenizer: Any
    text_vocab: int  # len(tokenizer) after the specials = offset of image code 0 (50,305 official)
    codebook: int  # K
    num_image_tokens: int  # M
    max_text_len: int  # official max_seq_length (128)

    def tid(self, token: str) -> int:
        return int(self.tokenizer.convert_tokens_to_ids(token))

    @property
    def pad(self) -> int:
        return self.tid(PAD)

    @property
    def bos(self) -> int:
        return int(self.tokenizer.bos_token_id)

    @property
    def eos(self) -> int:
        return int(self.tokenizer.eos_token_id)

    @property
    def mask_id(self) -> int:
        return self.text_vocab + self.codebook  # = vocab_size - 1

    @property
    def text_width(self) -> int:
        """Tokens before <|soi|> in the t2i layout (129 official)."""
        return self.max_text_len + 1

    @property
    def t2i_length(self) -> int:
        return self.text_width + self.num_image_tokens + 2

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def t2i_text(self, prompt: str) -> tuple[list[int], bool]:
        """The text part (exactly text_width ids, left-padded) and whether it was truncated."""
        text = self.encode(prompt)
        if not text or text[0] != self.bos:  # official: <|sot|> unless the tokenizer already put it first
            text = [self.bos] + text
        ids = [self.tid("<|t2i|>")] + text + [self.eos]
        if len(ids) > self.text_width:
            return ids[: self.text_width - 1] + [self.eos], True
        return [self.pad] * (self.text_width - len(ids)) + ids, False

    def t2i_rows(self, prompts: Sequence[str], image: torch.Tensor) -> torch.Tensor:
        """prompts (B,), image ids (B, M) already in vocabulary space -> (B, t2i_length) int64.

        "" is the null prompt (classifier-free guidance): <|t2i|> <|sot|> <|eot|>.
        """
        texts = [self.t2i_text(p) for p in prompts]
        cut = sum(t for _, t in texts)
        if cut:
            log.warning(
                "showo: %d of %d prompts longer than the text budget (%d tokens incl. <|t2i|> <|sot|> "
                "<|eot|>) were truncated",
                cut,
                len(prompts),
                self.text_width,
            )
        text = torch.tensor([ids for ids, _ in texts], dtype=torch.long, device=image.device)  # (B, text_width)
        soi = torch.full((len(prompts), 1), self.tid("<|soi|>"), dtype=torch.long, device=image.device)
        eoi = torch.full_like(soi, self.tid("<|eoi|>"))
        return torch.cat([text, soi, image, eoi], 1)

    def image_slice(self) -> slice:
        """Where the M image tokens sit in a t2i row."""
        return slice(self.text_width + 1, self.text_width + 1 + self.num_image_tokens)

    def mmu_prefix(self, codes: Sequence[int], question: str, answer_prefix: str = "") -> list[int]:
        """One understanding row up to the answer (codes: image codes 0..K-1)."""
        head = [self.tid("<|mmu|>"), self.tid("<|soi|>")] + [c + self.text_vocab for c in codes]
        head += [self.tid("<|eoi|>"), self.bos]
        return head + self.encode(MMU_USER + question + MMU_ASSISTANT + answer_prefix)

    def continuation(self, prefix: str, more: str) -> list[int]:
        """Token ids that `more` adds after `prefix` (tokenizers merge across the boundary)."""
        a, b = self.encode(prefix), self.encode(prefix + more)
        if b[: len(a)] != a or len(b) == len(a):
            raise ValueError(f"showo: {more!r} does not tokenize as a continuation of {prefix[-20:]!r}")
        return b[len(a) :]
