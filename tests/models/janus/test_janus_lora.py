"""LoRA through PEFT on the Janus language model; merged saves reload with plain transformers."""

from __future__ import annotations

import pytest
import torch

from unigap.models.base import SamplingConfig

pytest.importorskip("peft")


def _randomise_lora(model: torch.nn.Module) -> None:
    """PEFT starts lora_B at zero (a no-op adapter); give it weight so merging is really tested."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.2)


def test_lora_trains_only_adapters_on_the_language_model(backend, prompts):
    lora = backend.apply_lora(r=4, alpha=8, target_modules=["q_proj", "v_proj"])
    trainable = {n for n, p in backend.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n and ".language_model." in n for n in trainable)
    assert len(lora) == len(trainable) == 2 * 2 * 2  # 2 layers x (q, v) x (A, B)
    assert {id(p) for p in backend.components()["lora"]} == {id(p) for p in lora}
    tokens = backend.generate(prompts, [1, 2, 3], SamplingConfig()).tokens
    backend.model.train()
    backend.image_logprobs(prompts, tokens).sum().backward()
    assert all(p.grad is not None for p in lora)
    assert all(p.grad is None for n, p in backend.model.named_parameters() if "lora_" not in n)


def _outputs(backend, model, prompts, tokens) -> tuple[torch.Tensor, torch.Tensor]:
    """(teacher-forced image log-probs (B, M), text logits (B, T, V)) of `model` via the backend."""
    saved, backend.model = backend.model, model
    try:
        with torch.no_grad():
            ids = backend.processor(text=prompts, padding=True, return_tensors="pt")
            return backend.image_token_logprobs(prompts, tokens), model(**ids).logits
    finally:
        backend.model = saved


def test_merged_save_reloads_with_the_lora_models_logits(backend, janus_dir, prompts, tmp_path):
    from transformers import JanusForConditionalGeneration, JanusProcessor

    backend.apply_lora(r=4, alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
    _randomise_lora(backend.model)
    tokens = backend.generate(prompts, [1, 2, 3], SamplingConfig()).tokens
    lora_logp, lora_logits = _outputs(backend, backend.model.eval(), prompts, tokens)
    backend.save(tmp_path / "merged", merge_lora=True)
    merged = JanusForConditionalGeneration.from_pretrained(tmp_path / "merged").eval()
    assert not any("lora_" in k or "base_layer" in k for k in merged.state_dict())
    JanusProcessor.from_pretrained(tmp_path / "merged")
    merged_logp, merged_logits = _outputs(backend, merged, prompts, tokens)
    torch.testing.assert_close(merged_logp, lora_logp, atol=1e-4, rtol=0)
    torch.testing.assert_close(merged_logits, lora_logits, atol=1e-4, rtol=0)
    base_logp, _ = _outputs(backend, JanusForConditionalGeneration.from_pretrained(janus_dir).eval(), prompts, tokens)
    assert (base_logp - lora_logp).abs().max() > 1e-2  # the adapters do change the model
    assert any("lora_" in n for n, _ in backend.model.named_parameters())  # saving did not merge in place


def test_unmerged_save_keeps_base_weights_and_the_adapter_apart(backend, janus_dir, tmp_path):
    from transformers import JanusForConditionalGeneration

    backend.apply_lora(r=4, alpha=8, target_modules=["q_proj"])
    _randomise_lora(backend.model)
    backend.save(tmp_path / "unmerged", merge_lora=False)
    assert (tmp_path / "unmerged" / "lora_adapter" / "adapter_config.json").exists()
    base = JanusForConditionalGeneration.from_pretrained(janus_dir).state_dict()
    saved = JanusForConditionalGeneration.from_pretrained(tmp_path / "unmerged").state_dict()
    assert saved.keys() == base.keys() and all(torch.equal(saved[k], base[k]) for k in base)
