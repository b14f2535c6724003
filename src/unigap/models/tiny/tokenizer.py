"""Word-level tokenizer for ShapeWorld text, with the paper's fixed template sentences as phrases.

The self-judge question (the paper's, verbatim from its figures) is long boilerplate around the prompt. Like a BPE whose
merges were learned on a corpus full of that template, the tokenizer keeps each fixed template
sentence as one token, so the tiny model reads the exact text without paying ~50 positions for it.
Everything else splits into words and punctuation; out-of-vocabulary words map to <unk>.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from unigap.verdict import QUESTION_TEMPLATE, SYSTEM_TEXT

SPECIALS = ["<pad>", "<bos>", "<eos>", "<unk>", "<gen>", "<und>", "<boi>", "<eoi>"]
_HEAD, _TAIL = QUESTION_TEMPLATE.format(prompt="\x00").split("\x00")
PHRASES = [SYSTEM_TEXT, _HEAD.strip(), _TAIL.strip()]
_PHRASE_RE = re.compile("|".join(re.escape(p) for p in sorted(PHRASES, key=len, reverse=True)))
_WORD = re.compile(r"[A-Za-z0-9]+|[^\sA-Za-z0-9]")
_NO_SPACE_BEFORE = set(".,?;:!")


class WordTokenizer:
    def __init__(self, vocab: list[str]) -> None:
        self.vocab = list(vocab)
        self.index = {w: i for i, w in enumerate(self.vocab)}
        for name in SPECIALS:
            setattr(self, name.strip("<>"), self.index[name])

    @classmethod
    def build(cls, texts: Iterable[str]) -> WordTokenizer:
        words: set[str] = set()
        for text in texts:
            words.update(w for w in cls._split(text) if w not in PHRASES)
        return cls(SPECIALS + PHRASES + sorted(words))

    @staticmethod
    def _split(text: str) -> list[str]:
        out: list[str] = []
        pos = 0
        for m in _PHRASE_RE.finditer(text):
            out += _WORD.findall(text[pos : m.start()]) + [m.group(0)]
            pos = m.end()
        return out + _WORD.findall(text[pos:])

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> list[int]:
        return [self.index.get(w, self.unk) for w in self._split(text)]

    def decode(self, ids: Iterable[int]) -> str:
        out = ""
        for i in ids:
            word = self.vocab[i]
            if word in SPECIALS:
                continue
            sep = "" if not out or word[0] in _NO_SPACE_BEFORE else " "
            out += sep + word
        return out
