"""Request plumbing helpers (no lmms-eval needed)."""

from __future__ import annotations

import numpy as np
import pytest

from unigap.errors import UnigapError
from unigap.understand.batching import (
    Item,
    batches,
    cut_at_stop,
    generation_settings,
    is_greedy,
    one_image,
    run_batch,
    to_array,
)


def test_generation_settings_and_stop_strings():
    assert generation_settings({"max_new_tokens": 7, "until": "ASSISTANT:"}) == (7, ["ASSISTANT:"])
    assert generation_settings(None) == (128, [])
    with pytest.raises(UnigapError, match="until"):
        generation_settings({"until": 3})
    assert cut_at_stop("Yes. ASSISTANT: more\n\nUSER:", ["USER:", "ASSISTANT:"]) == "Yes. "


def test_batches_group_by_image_size_and_length_in_request_order():
    items = [
        Item(i, "t", i, "q", np.zeros((s, s, 3), np.uint8), max_new_tokens=m)
        for i, (s, m) in enumerate([(32, 4), (24, 4), (32, 4), (32, 8), (32, 4)])
    ]
    items.append(Item(5, "t", 5, "q", error="bad"))
    got = [[it.index for it in chunk] for chunk in batches(items, 2)]
    assert got == [[0, 2], [4], [1], [3]]


def test_run_batch_isolates_the_failing_item():
    items = [Item(i, "t", i, f"q{i}") for i in range(3)]
    failed = []

    def call(chunk):
        if any(it.question == "q1" for it in chunk):
            raise ValueError("boom")
        return [it.question.upper() for it in chunk]

    assert run_batch(items, call, lambda it, e: failed.append((it.index, e))) == ["Q0", None, "Q2"]
    assert failed == [(1, "ValueError: boom")]


def test_images_and_greedy_match():
    from PIL import Image

    img = Image.new("L", (40, 20), 128)
    assert to_array(img).shape == (20, 40, 3) and to_array(img, 32).shape == (32, 32, 3)
    with pytest.raises(UnigapError, match="2 visuals"):
        one_image([img, img], "tiny")
    assert one_image(img, "tiny") is img
    assert is_greedy("red.", " red") and is_greedy("red circle", "red") and not is_greedy("reddish", "red")
    assert not is_greedy("", "red")
