"""Prompt formatting for Janus: generation prompts, understanding (judge) inputs, score-token ids."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from unigap.verdict import ANSWER_PREFIX, SYSTEM_TEXT


def chat(processor: Any, text: str, with_image: bool) -> str:
    """`<|User|>: [<image_placeholder>\\n]{text}\\n\\n<|Assistant|>:` through the checkpoint's own template."""
    content = ([{"type": "image"}] if with_image else []) + [{"type": "text", "text": text}]
    return processor.apply_chat_template(
        [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False
    )


def generation_rows(processor: Any, prompts: Sequence[str]) -> list[list[int]]:
    """Token ids per prompt, ending in <begin_of_image> (the processor's image mode appends it).

    No system prompt, as in the original Janus generation script. BOS is prepended where the
    tokenizer does not add it: Janus was trained with it, and the CFG null prompt keeps it.
    """
    enc = processor(
        text=[chat(processor, p, False) for p in prompts], generation_mode="image", padding=True, return_tensors="pt"
    )
    bos = processor.tokenizer.bos_token_id
    rows = [ids[mask.bool()].tolist() for ids, mask in zip(enc["input_ids"], enc["attention_mask"])]
    return [r if r[:1] == [bos] else [bos] + r for r in rows]


@contextmanager
def explicit_system_prompt(processor: Any) -> Iterator[None]:
    """We write SYSTEM_TEXT ourselves; the processor must not prepend its own copy as well."""
    old = getattr(processor, "use_default_system_prompt", False)
    processor.use_default_system_prompt = False
    try:
        yield
    finally:
        processor.use_default_system_prompt = old


def to_pil(images: torch.Tensor) -> list[Image.Image]:
    """(B, H, W, 3) uint8 -> PIL images."""
    return [Image.fromarray(np.ascontiguousarray(img)) for img in images.cpu().numpy()]


def official_resize(img: Image.Image, side: int, min_size: int) -> Image.Image:
    """The original VLMImageProcessor.resize: the longer side to `side`, the other scaled and floored (at
    least min_size), bicubic on the PIL image (what torchvision's resize does with one).

    transformers' Janus image processor rounds instead of flooring (a 31x29 image becomes 16x15 there,
    16x14 in the original: pixels differ by up to 0.77 after normalisation, tests/fixtures/official/janus).
    Resized here first, the processor's own resize is then the identity and it only pads and normalises.
    """
    w, h = img.size
    longest = max(w, h)
    size = (max(int(w / longest * side), min_size), max(int(h / longest * side), min_size))
    return img if size == (w, h) else img.resize(size, Image.BICUBIC)


def model_images(processor: Any, images: torch.Tensor) -> list[Image.Image]:
    """(B, H, W, 3) uint8 -> PIL images resized as the original Janus processor does."""
    from unigap.models.janus.loading import processor_side

    ip = processor.image_processor
    side, min_size = processor_side(ip), getattr(ip, "min_size", 14)
    pils = to_pil(images)
    return pils if side is None else [official_resize(img, side, min_size) for img in pils]


def understanding_inputs(
    processor: Any, images: torch.Tensor, questions: Sequence[str], suffix: str = "", extra_ids: Sequence[int] = ()
) -> dict[str, torch.Tensor]:
    """Left-padded model inputs for "system, user: image + question, assistant:" + suffix (+ extra ids)."""
    texts = [f"{SYSTEM_TEXT}\n\n{chat(processor, q, True)}{suffix}" for q in questions]
    with explicit_system_prompt(processor):
        enc = processor(text=texts, images=model_images(processor, images), padding=True, return_tensors="pt")
    inputs = {k: enc[k] for k in ("input_ids", "attention_mask", "pixel_values")}
    if extra_ids:  # right after the text of every row: left padding keeps all rows aligned at the end
        extra = torch.tensor([list(extra_ids)] * len(texts), dtype=torch.long)  # (B, E)
        inputs["input_ids"] = torch.cat([inputs["input_ids"], extra], 1)
        inputs["attention_mask"] = torch.cat([inputs["attention_mask"], torch.ones_like(extra)], 1)
    return inputs


@dataclass(frozen=True)
class ScoreIds:
    """How prob mode reads P("1") vs P("0") after the answer prefix.

    We tokenize " The score is 1" and " The score is 0" and take the first token where they differ
    (`one`, `zero`): that is the model's actual next-token choice between the two answers, whatever
    the tokenizer does with the space and the digit ("Ġ1" as one token, or "Ġ" then "1" with
    digit-splitting tokenizers). Tokens both share after the prefix (`extra`, e.g. a lone space) are
    fed as input, so the compared logits sit exactly at the digit.
    """

    prefix: str
    extra: tuple[int, ...]
    one: int
    zero: int


def score_ids(tokenizer: Any, prefix: str = " " + ANSWER_PREFIX) -> ScoreIds:
    base = tokenizer(prefix, add_special_tokens=False)["input_ids"]
    one = tokenizer(prefix + " 1", add_special_tokens=False)["input_ids"]
    zero = tokenizer(prefix + " 0", add_special_tokens=False)["input_ids"]
    diff = next(i for i, (a, b) in enumerate(zip(one, zero)) if a != b)
    if one[: len(base)] != base or diff < len(base):  # the digit merged into the prefix's last token
        return ScoreIds("", tuple(one[:diff]), one[diff], zero[diff])
    return ScoreIds(prefix, tuple(one[len(base) : diff]), one[diff], zero[diff])
