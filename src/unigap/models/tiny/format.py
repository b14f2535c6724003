"""Token layouts of the tiny model's two tasks (shared by the backend and pretraining).

Generation:    [pad.. <bos> <gen> prompt <boi>] [img x M]            prompt part left-padded to P
Understanding: [<bos> <und> SYSTEM <boi> img x M <eoi> question] [answer <eos>]
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from unigap.errors import UnigapError
from unigap.models.tiny.tokenizer import WordTokenizer
from unigap.utils import left_pad
from unigap.verdict import SYSTEM_TEXT


@dataclass
class Batch:
    ids: torch.Tensor  # (B, T) int64, image ids offset by the text vocab
    key_ok: torch.Tensor  # (B, T) bool, False on padding


class TinyFormat:
    def __init__(self, tok: WordTokenizer, prompt_len: int, n_image_tokens: int) -> None:
        self.tok, self.P, self.M = tok, prompt_len, n_image_tokens
        self.offset = len(tok)  # image id i is token offset + i
        self.system = tok.encode(SYSTEM_TEXT)

    def gen_prompt_ids(self, text: str | None) -> list[int]:
        """Prompt part of a generation sequence, unchecked; None = the unconditional (CFG) prompt."""
        words = self.tok.encode(text) if text else []
        return [self.tok.bos, self.tok.gen, *words, self.tok.boi]

    def gen_prompt(self, text: str | None) -> list[int]:
        """Prompt part of a generation sequence; None = the unconditional (CFG) prompt."""
        ids = self.gen_prompt_ids(text)
        if len(ids) > self.P:
            raise UnigapError(f"prompt too long for the tiny model ({len(ids)} > {self.P} tokens): {text!r}")
        return ids

    def gen_prompts(self, texts: list[str | None]) -> Batch:
        """Left-padded to exactly P, whatever the batch: (B, P) (every row is <= P, so rounding to P gives P)."""
        return Batch(*left_pad([self.gen_prompt(t) for t in texts], self.tok.pad, round_to=self.P))

    def und_prefix(self, image_tokens: list[int], question: str) -> list[int]:
        """System text and question first, then the image, then the answer.

        Question before image: image positions can then read the prompt as generation does
        (the shared trunk already learns "what should be here, given this text"), and the
        answer reads how well the image matched.
        """
        img = [self.offset + int(t) for t in image_tokens]
        return [self.tok.bos, self.tok.und, *self.system, *self.tok.encode(question), self.tok.boi, *img, self.tok.eoi]

    def und_prompts(self, image_tokens: torch.Tensor, questions: list[str], suffix: str = "") -> Batch:
        """Understanding inputs ending where the answer starts (plus an optional answer prefix)."""
        extra = self.tok.encode(suffix) if suffix else []
        rows = [self.und_prefix(t.tolist(), q) + extra for t, q in zip(image_tokens, questions)]
        return Batch(*left_pad(rows, self.tok.pad))
