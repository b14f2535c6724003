"""`model.options` of `model.name: showo` (typed; unknown keys are an error).

Imports nothing heavy: the registry reads this class without loading torch models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from unigap.config import Config


class ShowoOptions(Config):
    """Show-o backend settings. `None` = the official value for the checkpoint.

    Guidance and the starting temperature come from the run's `sampling:` section: for Show-o
    `sampling.cfg_scale` is Show-o's guidance scale g in (1 + g)·cond − g·uncond (0 = no
    guidance) and `sampling.temperature` the starting temperature of the confidence noise.
    """

    steps: int | None = Field(None, ge=1)  # decoding steps; None = 18 (256 tokens), 50 (1,024 tokens)
    vq_path: str | None = None  # MAGVIT-v2 dir/hub id; None = <path>/vq if present, else showlab/magvitv2
    llm_path: str | None = None  # Phi-1.5 config + tokenizer; None = the checkpoint's llm_model_path
    resolution: int | None = None  # expected image side; None = derived from num_vq_tokens
    max_text_len: int = Field(128, ge=4)  # official max_seq_length (text budget of the t2i layout)
    judge_prob: Literal["score", "yes_no"] = "score"  # prob mode: P(" 1") vs P(" 0") after "The score is",
    # or P(" Yes") vs P(" No") as the first answer token
    train_draws: int = Field(1, ge=1)  # mask draws per image in the likelihood surrogate (image_logprobs)
    mask_seed: int = 0  # seeds the surrogate's mask draws (with the prompt and the image tokens)
    cond_dropout: float = Field(0.1, ge=0.0, le=1.0)  # image_loss: official cond_dropout_prob
