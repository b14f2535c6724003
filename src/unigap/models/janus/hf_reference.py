"""transformers' own Janus image generate: the reference for parity tests and benchmarks only.

The backend never calls it: in transformers 5.17 it crashes in `_prepare_static_cache` (a missing
`prefill_chunk_size` argument). Passing a cache of our own skips that call; the kwarg that carries
it is `past_key_values` up to 5.17 and `cache` in later 5.x.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

from unigap.models.janus.decode import SpecialIds


def cache_kwarg(model: Any) -> str:
    """Which model kwarg Janus image generate reads its cache from, in the installed version."""
    source = inspect.getsource(type(model).generate)
    return "cache" if 'model_kwargs.get("cache"' in source else "past_key_values"


def hf_image_generate(
    model: Any, ids: torch.Tensor, mask: torch.Tensor, special: SpecialIds, dynamic_cache: bool = False, **sampling: Any
) -> torch.Tensor:
    """(B, P) left-padded prompt ids and mask -> (B, M) image tokens from transformers' loop.

    `sampling`: do_sample, guidance_scale, temperature, top_k. Both num_return_sequences and
    max_length are set explicitly (image mode crashed when they were None, transformers #44792).
    """
    m = model.model.vision_model.config.num_image_tokens
    # generation_kwargs (boi) does not survive save_pretrained in 5.24, so it is set here every time.
    model.generation_config.generation_kwargs = {"boi_token_id": special.boi}
    extra = {}
    if dynamic_cache:
        from transformers import DynamicCache

        extra[cache_kwarg(model)] = DynamicCache()
    return model.generate(
        input_ids=ids,
        attention_mask=mask,
        generation_mode="image",
        num_return_sequences=1,
        max_new_tokens=m,
        max_length=ids.shape[1] + m,
        bos_token_id=special.bos,
        pad_token_id=special.pad,
        **extra,
        **sampling,
    )
