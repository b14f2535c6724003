"""The tiny backend runs where `model.device` says: load_tiny moves the weights there, and every tensor the
backend hands its model is on the weights' device (checked on a CPU-only machine with a stand-in device:
the model's entry points record the device of what they receive)."""

from __future__ import annotations

import pytest
import torch

from unigap.models.base import ModelConfig, SamplingConfig
from unigap.models.tiny import backend as tiny
from unigap.models.tiny.model import TinyUnified


class Reached(Exception):
    pass


ENTRY_POINTS = ("generate_images", "greedy_text", "next_text_logits", "image_logprobs", "forward")


@pytest.fixture
def backend(tiny_ckpt_dir):
    return tiny.load_tiny(ModelConfig(name="tiny", path=str(tiny_ckpt_dir), batch_size=4))


def test_load_tiny_puts_the_weights_on_model_device(tiny_ckpt_dir, monkeypatch):
    moved = []
    monkeypatch.setattr(TinyUnified, "to", lambda self, device: moved.append(device) or self)
    tiny.load_tiny(ModelConfig(name="tiny", path=str(tiny_ckpt_dir), device="cuda:1"))
    assert moved == [torch.device("cuda:1")]


def test_every_input_goes_to_the_weights_device(backend, monkeypatch):
    seen: list[tuple[str, set]] = []

    def recording(name):
        def fn(*args, **kwargs):
            seen.append((name, {a.device.type for a in (*args, *kwargs.values()) if torch.is_tensor(a)}))
            raise Reached

        return fn

    for name in ENTRY_POINTS:
        monkeypatch.setattr(backend.model, name, recording(name))
    monkeypatch.setattr(tiny.TinyBackend, "device", property(lambda self: torch.device("meta")))
    images = torch.zeros(2, 24, 32, 3, dtype=torch.uint8)
    calls = [
        lambda: backend.generate(["a red circle", "a blue square"], [1, 2], SamplingConfig(cfg_scale=3.0)),
        lambda: backend.answer(images, ["what is it?"] * 2),
        lambda: backend.score_probs(images, ["is it red?"] * 2),
        lambda: backend.image_token_logprobs(["a red circle"], torch.zeros(1, backend.num_image_tokens).long()),
        lambda: backend.answer_logprobs(images, ["what is it?"] * 2, ["red", "blue"]),
    ]
    for call in calls:
        with pytest.raises(Reached):
            call()
    assert [name for name, _ in seen] == [
        "generate_images",
        "greedy_text",
        "next_text_logits",
        "image_logprobs",
        "forward",
    ]
    assert all(devices == {"meta"} for _, devices in seen), seen


def test_on_the_cpu_results_come_back_on_the_cpu(backend):
    gen = backend.generate(["a red circle"], [1], SamplingConfig())
    assert backend.device.type == "cpu" and gen.tokens.device.type == "cpu" and gen.images.dtype == torch.uint8
    assert backend.answer_logprobs(gen.images, ["what is it?"], ["red"]).shape == (1,)
