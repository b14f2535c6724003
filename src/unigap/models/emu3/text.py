"""Prompt formatting for Emu3: generation rows, understanding (judge) inputs through the chat template."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from unigap.verdict import SYSTEM_TEXT


def generation_rows(processor: Any, prompts: Sequence[str], image_area: int, ratio: str) -> list[list[int]]:
    """BOS + prompt + `<|image start|>H*W<|image token|>` per prompt (Emu3Processor's generation mode)."""
    enc = processor(
        text=list(prompts),
        return_for_image_generation=True,
        image_area=image_area,
        ratio=ratio,
        padding=True,
        return_tensors="pt",
    )
    return [ids[m.bool()].tolist() for ids, m in zip(enc["input_ids"], enc["attention_mask"])]


def negative_row(processor: Any, text: str) -> list[int]:
    """BOS + negative prompt, as transformers' Emu3 docs build `negative_prompt_ids` (no image prefix)."""
    return processor(text=[text], return_tensors="pt")["input_ids"][0].tolist()


def chat(processor: Any, question: str) -> str:
    """System turn (the paper's system text), user turn with the image then the question, assistant prompt."""
    messages = [
        {"role": "system", "content": [{"type": "text", "text": SYSTEM_TEXT}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]},
    ]
    return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def to_pil(images: torch.Tensor) -> list[Image.Image]:
    return [Image.fromarray(np.ascontiguousarray(img)) for img in images.cpu().numpy()]


def understanding_inputs(
    processor: Any, images: torch.Tensor, questions: Sequence[str], suffix: str = "", extra_ids: Sequence[int] = ()
) -> dict[str, torch.Tensor]:
    """Left-padded inputs (input_ids, attention_mask, pixel_values, image_sizes) + suffix (+ extra ids)."""
    processor.tokenizer.padding_side = "left"
    texts = [chat(processor, q) + suffix for q in questions]
    enc = processor(text=texts, images=to_pil(images), padding=True, return_tensors="pt")
    inputs = {k: enc[k] for k in ("input_ids", "attention_mask", "pixel_values", "image_sizes")}
    if extra_ids:
        extra = torch.tensor([list(extra_ids)] * len(texts), dtype=torch.long)  # (B, E)
        inputs["input_ids"] = torch.cat([inputs["input_ids"], extra], 1)
        inputs["attention_mask"] = torch.cat([inputs["attention_mask"], torch.ones_like(extra)], 1)
    return inputs
