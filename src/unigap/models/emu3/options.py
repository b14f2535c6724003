"""`model.options` of `model.name: emu3` (typed; unknown keys are an error). Imports nothing heavy."""

from __future__ import annotations

from pydantic import Field

from unigap.config import Config

# transformers' Emu3 docs (image generation example) and BAAI's image_generation.py
NEGATIVE_PROMPT = (
    "lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit, fewer digits, "
    "cropped, worst quality, low quality, normal quality, jpeg artifacts, signature, watermark, "
    "username, blurry."
)


class Emu3Options(Config):
    """Emu3 backend settings.

    `path` (model.path) is the generation fine-tune (BAAI/Emu3-Gen-hf); `understanding_path`, if
    set, a second fine-tune of the same architecture that answers the judge's question
    (BAAI/Emu3-Chat-hf). Both are recorded in the fingerprint. `image_area` / `ratio` give the
    generated size as Emu3Processor computes it (518,400 px, 1:1 = 90 x 90 tokens = 720 px);
    None = the checkpoint's (synthetic checkpoints record theirs). Sampling (cfg 3, temperature 1,
    top-k 2048 by default, BAAI's settings) comes from the run's `sampling:` section.
    """

    understanding_path: str | None = None
    negative_prompt: str = NEGATIVE_PROMPT
    positive_suffix: str = ""  # BAAI's demo appends " masterpiece, film grained, best quality."
    image_area: int | None = Field(None, ge=64)
    ratio: str = "1:1"
    max_answer_tokens: int = Field(32, ge=1)
