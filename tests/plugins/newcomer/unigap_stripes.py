"""A unigap plugin written from docs/backends.md alone: the `stripes` backend (audit only) and the
`stripe-colours` prompt suite.

The "model" paints 8 horizontal stripes, each one of 4 colours; the colour a prompt names is `bias`
times likelier than the others. It answers the paper's question by the share of stripes of the colour
the question names. No weights: `trainable = False`.
"""

from __future__ import annotations

import torch

from unigap.config import Config
from unigap.models.base import Generation, SamplingConfig, UnifiedModel
from unigap.records import Prompt
from unigap.registry import factory

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220), "yellow": (230, 220, 40)}
RGB = torch.tensor(list(COLOURS.values()), dtype=torch.uint8)  # (V, 3)
STRIPES, HEIGHT, WIDTH = 8, 4, 32  # M stripes of HEIGHT px: images (B, 32, 32, 3)


def named_colour(text: str) -> int | None:
    """Index of the first colour word in `text` (the prompt, or the paper's question around it)."""
    found = [(text.find(c), i) for i, c in enumerate(COLOURS) if c in text]
    return min(found)[1] if found else None


class StripesOptions(Config):
    """model.options of `model.name: stripes`."""

    bias: float = 4.0  # how much likelier the prompt's colour is than each other colour


class Stripes(UnifiedModel):
    name = "stripes"
    num_image_tokens = STRIPES
    trainable = False  # no weights: image_logprobs, module, components and save are left out
    default_sampling = SamplingConfig(cfg_scale=1.0, temperature=1.0, top_k=0)

    def __init__(self, options: StripesOptions) -> None:
        self.options = options

    def logits(self, prompt: str) -> torch.Tensor:
        out = torch.zeros(len(COLOURS))  # (V,)
        colour = named_colour(prompt)
        if colour is not None:
            out[colour] = torch.log(torch.tensor(self.options.bias))
        return out

    def generate(self, prompts, seeds, sampling):
        rows = []
        for prompt, seed in zip(prompts, seeds):  # a generator per row: rows never depend on the batch
            g = torch.Generator().manual_seed(int(seed))
            probs = (self.logits(prompt) / sampling.temperature).softmax(-1)  # (V,)
            rows.append(torch.multinomial(probs, STRIPES, replacement=True, generator=g))  # (M,)
        tokens = torch.stack(rows) if rows else torch.zeros(0, STRIPES, dtype=torch.long)  # (B, M)
        return Generation(tokens, self.decode(tokens))

    def decode(self, tokens):
        stripes = RGB[tokens]  # (B, M, 3)
        return stripes[:, :, None, None, :].expand(-1, -1, HEIGHT, WIDTH, -1).reshape(-1, STRIPES * HEIGHT, WIDTH, 3)

    def fingerprint(self):
        return {"backend": "stripes", "num_image_tokens": STRIPES, "colours": list(COLOURS)}

    def shares(self, images, questions) -> list[float]:
        """Share of the stripes (read back from the pixels) in the colour each question names."""
        rows = images[:, ::HEIGHT, 0, :].int()  # (B, M, 3): one pixel per stripe
        dist = (rows[:, :, None, :] - RGB.int()[None, None]).abs().sum(-1)  # (B, M, V)
        tokens = dist.argmin(-1)  # (B, M)
        out = []
        for row, q in zip(tokens, questions):
            colour = named_colour(q)
            out.append(0.0 if colour is None else float((row == colour).float().mean()))
        return out

    def answer(self, images, questions, max_new_tokens=16):
        return [f"The score is {int(s > 0.5)}." for s in self.shares(images, questions)]

    def score_probs(self, images, questions):
        return self.shares(images, questions)


@factory(options=StripesOptions)
def load_stripes(cfg, options):
    """`model.name: stripes`."""
    return Stripes(options)


class StripeColoursOptions(Config):
    per_colour: int = 3


@factory(options=StripeColoursOptions)
def load_stripe_colours(cfg, options):
    """`prompts.suite: stripe-colours`: one subtask per colour."""
    colours = cfg.subtasks or list(COLOURS)
    return [
        Prompt(
            id=f"stripe-colours/{c}/{cfg.split}/{i}",
            text=f"a mostly {c} flag",
            subtask=c,
            split=cfg.split,
            suite="stripe-colours",
        )
        for c in colours
        for i in range(options.per_colour)
    ]
