"""The Emu3 backend behind the UnifiedModel protocol: images, judge, checkpoints, training hooks."""

from __future__ import annotations

import pytest
import torch

from unigap.errors import CheckpointError, ConfigError
from unigap.models.base import MODELS, ModelConfig, SamplingConfig, SelfJudgeConfig, load_model, supports
from unigap.models.emu3.backend import load_emu3

SAMPLING = SamplingConfig(cfg_scale=3.0, temperature=1.0, top_k=16)


def test_generate_gives_codes_and_images(backend, prompts):
    gen = backend.generate(prompts, [0, 1, 2], SAMPLING)
    assert gen.tokens.shape == (3, 16) and gen.tokens.dtype == torch.long
    assert int(gen.tokens.max()) < 64 and gen.images.shape == (3, 32, 32, 3) and gen.images.dtype == torch.uint8
    again = backend.generate(prompts, [0, 1, 2], SAMPLING)
    assert torch.equal(gen.tokens, again.tokens) and torch.equal(gen.images, again.images)
    assert backend.default_sampling.top_k == 2048 and backend.num_image_tokens == 16


def test_judge_parse_and_prob_modes(backend, prompts):
    images = backend.generate(prompts, [0, 1, 2], SAMPLING).images
    parsed = backend.judge(images, prompts, SelfJudgeConfig(mode="parse", max_new_tokens=6))
    assert len(parsed) == 3 and all(j.raw for j in parsed)  # a random model: answers kept, mostly unparsed
    assert all(j.status in ("ok", "unparsed") for j in parsed)
    probs = backend.judge(images, prompts, SelfJudgeConfig(mode="prob", threshold=0.5))
    assert all(0.0 <= j.prob <= 1.0 and j.verdict == int(j.prob > 0.5) for j in probs)
    # batch independence of the judge: one row alone gives the same probability
    alone = backend.score_probs(images[1:2], [f"Does this image describe {prompts[1]}?"])
    batch = backend.score_probs(images, [f"Does this image describe {p}?" for p in prompts])
    assert alone[0] == pytest.approx(batch[1], abs=1e-5)


def test_registry_loads_with_typed_options(emu3_dir):
    cfg = ModelConfig(name="emu3", path=str(emu3_dir), options={"negative_prompt": "blurry.", "image_area": 1024})
    model = load_model(cfg)
    assert model.options.negative_prompt == "blurry." and model.layout.height == 4
    with pytest.raises(ConfigError, match="understand_path"):
        load_model(ModelConfig(name="emu3", path=str(emu3_dir), options={"understand_path": "x"}))
    assert MODELS.extra("emu3", "synthetic") is not None


def test_synthetic_writer_makes_a_loadable_checkpoint(tmp_path):
    out = MODELS.extra("emu3", "synthetic")(tmp_path / "e", "tiny", 3)
    model = load_emu3(ModelConfig(name="emu3", path=str(out)))
    assert model.fingerprint()["codebook_size"] == 64
    with pytest.raises(ConfigError, match="valid: real, tiny"):
        MODELS.extra("emu3", "synthetic")(tmp_path / "x", "huge", 0)


def test_chat_checkpoint_refused_for_generation(chat_dir):
    with pytest.raises(CheckpointError, match="does not generate images.*Emu3-Gen-hf.*understanding_path"):
        load_emu3(ModelConfig(name="emu3", path=str(chat_dir)))


def test_understanding_path_judges_and_is_fingerprinted(emu3_dir, chat_dir, prompts):
    from unigap.models.emu3.options import Emu3Options

    both = load_emu3(ModelConfig(name="emu3", path=str(emu3_dir)), Emu3Options(understanding_path=str(chat_dir)))
    alone = load_emu3(ModelConfig(name="emu3", path=str(emu3_dir)))
    fp = both.fingerprint()
    assert fp["path"] == str(emu3_dir) and fp["understanding_path"] == str(chat_dir)
    assert both.und_model is not both.model
    images = alone.generate(prompts, [0, 1, 2], SAMPLING).images
    assert torch.equal(both.generate(prompts, [0, 1, 2], SAMPLING).images, images)  # same generator
    q = [f"Does this image describe {p}?" for p in prompts]
    assert both.score_probs(images, q) != alone.score_probs(images, q)  # another judge


def test_lora_training_step_changes_only_adapters(backend, prompts, tmp_path):
    assert all(supports(backend, h) for h in ("apply_lora", "enable_gradient_checkpointing", "score_probs"))
    codes = backend.generate(prompts[:2], [0, 1], SAMPLING).tokens
    params = backend.apply_lora(r=4, alpha=8)
    backend.enable_gradient_checkpointing()
    backend.model.train()
    before = [p.detach().clone() for p in params]
    frozen = backend.model.lm_head.weight.detach().clone()
    opt = torch.optim.SGD(params, lr=0.5)
    loss = -backend.image_logprobs(prompts[:2], codes).mean()
    assert torch.isfinite(loss)
    loss.backward()
    opt.step()
    assert any(not torch.equal(a, p.detach()) for a, p in zip(before, params))
    assert torch.equal(frozen, backend.model.lm_head.weight) and backend.components()["lora"]
    backend.save(tmp_path / "ckpt")
    merged = load_emu3(ModelConfig(name="emu3", path=str(tmp_path / "ckpt")))
    backend.model.eval()
    torch.testing.assert_close(
        merged.image_logprobs(prompts[:2], codes).detach(),
        backend.image_logprobs(prompts[:2], codes).detach(),
        atol=1e-3,
        rtol=0,
    )


def test_full_finetune_step_and_answer_logprobs(backend, prompts):
    images = backend.generate(prompts[:2], [0, 1], SAMPLING).images
    lp = backend.answer_logprobs(images, ["Does this image describe a cat?"] * 2, ["The score is 1.", "No"])
    assert lp.shape == (2,) and torch.isfinite(lp).all() and lp.requires_grad
    llm = backend.components()["llm"]
    before = llm[1].detach().clone()
    opt = torch.optim.SGD(llm, lr=0.1)
    (-lp.sum()).backward()
    opt.step()
    assert not torch.equal(before, llm[1].detach())
