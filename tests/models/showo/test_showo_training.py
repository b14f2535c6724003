"""Training objective: SFT raises the example's likelihood, DPO = log 2 at policy = reference,
trainable / frozen components, LoRA through `unigap improve` with kill-and-resume, curriculum replay."""

from __future__ import annotations

import math

import pytest
import torch

from tests.distributed.helpers import make_data as curated_data
from unigap.models.base import ModelConfig, SamplingConfig
from unigap.training.improve import ImproveConfig, freeze, improve
from unigap.training.losses import dpo_loss

from .conftest import load


def _tokens(backend, prompts, seeds):
    return backend.generate_tokens(prompts, seeds, SamplingConfig(cfg_scale=0.0))


def _weights(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_sft_raises_the_log_likelihood_of_its_example(showo_dir):
    b = load(showo_dir, steps=2)
    toks = _tokens(b, ["a red circle"], [3])
    params = freeze(b, ["llm"])
    before_w = _weights(b.model)
    with torch.no_grad():
        before = b.image_logprobs(["a red circle"], toks).item()
    opt = torch.optim.AdamW(params, lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(8):
        loss = b.image_loss(["a red circle"], toks, generator=g)
        assert math.isfinite(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = b.image_logprobs(["a red circle"], toks).item()
    assert after > before
    changed = [k for k, v in _weights(b.model).items() if not torch.equal(v, before_w[k])]
    assert changed and all(k.startswith("llm.") for k in changed)


def test_dpo_equals_log_2_when_policy_is_the_reference(backend, prompts):
    chosen, rejected = _tokens(backend, prompts, [1, 2, 3]), _tokens(backend, prompts, [4, 5, 6])
    with torch.no_grad():
        ref_c, ref_r = backend.image_logprobs(prompts, chosen), backend.image_logprobs(prompts, rejected)
    pol_c, pol_r = backend.image_logprobs(prompts, chosen), backend.image_logprobs(prompts, rejected)
    assert pol_c.requires_grad
    assert torch.isclose(dpo_loss(pol_c, pol_r, ref_c, ref_r, 0.1), torch.tensor(math.log(2)), atol=1e-6)
    # the surrogate's mask draws depend on the content only, never on the batch
    assert torch.allclose(backend.image_logprobs(prompts[1:2], chosen[1:2]), pol_c[1:2].detach(), atol=1e-5)


def test_trainable_components_only_change(showo_dir):
    b = load(showo_dir, steps=2)
    assert set(b.components()) == {"llm", "embed", "head", "vq"}
    params = freeze(b, ["head"])
    before = _weights(b.model)
    toks = _tokens(b, ["a green cat"], [1])
    opt = torch.optim.AdamW(params, lr=1e-2)
    b.image_loss(["a green cat"], toks).backward()
    opt.step()
    after = _weights(b.model)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"llm.lm_head.weight", "llm.lm_head.bias"}


def make_data(path, backend, n=4):
    """Curated rows / pairs of random Show-o image tokens and a discard pool (tests/distributed/helpers.py's)."""
    return curated_data(path, backend, backend.layout.codebook, n=n)


def _cfg(showo_dir, **kw):
    model = ModelConfig(name="showo", path=str(showo_dir), batch_size=4, options={"steps": 2})
    return ImproveConfig(**{"model": model, "epochs": 2, "train_batch_size": 2, "lr": 1e-3, **kw})


def test_lora_improve_killed_and_resumed_gives_the_same_weights(showo_dir, backend, tmp_path):
    data = make_data(tmp_path / "data", backend)
    lora = {"r": 4, "alpha": 8, "target_modules": ["q_proj", "k_proj", "v_proj", "dense"]}
    c = _cfg(showo_dir, method="dpo", lora=lora)
    improve(c, data, tmp_path / "straight", log=lambda m: None)
    calls = {"n": 0}

    def die(_):
        calls["n"] += 1
        if calls["n"] == 3:  # mid epoch 2: only epoch 1 is on disk
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        improve(c, data, tmp_path / "killed", log=lambda m: None, on_batch=die)
    hist = improve(c, data, tmp_path / "killed", log=lambda m: None)
    assert all(math.isfinite(e["loss"]) for e in hist["epochs"])
    a = _weights(load(tmp_path / "straight" / "model").model)
    b = _weights(load(tmp_path / "killed" / "model").model)
    base = _weights(backend.model)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(
        a["llm.model.layers.0.self_attn.q_proj.weight"], base["llm.model.layers.0.self_attn.q_proj.weight"]
    )
    assert torch.equal(a["llm.model.layers.0.mlp.fc1.weight"], base["llm.model.layers.0.mlp.fc1.weight"])  # frozen


def test_sft_improve_with_curriculum_replay(showo_dir, backend, tmp_path):
    data = make_data(tmp_path / "data", backend, n=2)
    c = _cfg(
        showo_dir,
        method="sft",
        curriculum={"mode": "fixed", "epoch": 1, "n": 2},
        sampling={"cfg_scale": 1.75, "temperature": 1.0},
    )
    hist = improve(c, data, tmp_path / "out", log=lambda m: None)
    assert len(hist["replays"]) == 1 and all(math.isfinite(e["loss"]) for e in hist["epochs"])
    assert (tmp_path / "out" / "model" / "config.json").exists()


def test_image_loss_is_the_official_masked_cross_entropy(backend, prompts):
    """Show-o's loss_t2i: F.cross_entropy over the whole vocabulary from <|soi|> on, labels -100 at the
    unmasked image tokens (<|soi|> and <|eoi|> keep theirs). test_showo_official checks the value
    against the official code; this one the same reduction on a batch with several rows."""
    import torch.nn.functional as F

    from unigap.models.showo.backend import schedule_masks
    from unigap.models.showo.model import attn_mask, t2i_mask

    toks = _tokens(backend, prompts, [7, 8, 9])
    loss = backend.image_loss(prompts, toks, generator=torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    masked = schedule_masks(3, 16, g)
    drop = torch.rand(3, generator=g) < backend.options.cond_dropout
    lay = backend.layout
    image = torch.where(masked, lay.mask_id, toks + lay.text_vocab)
    rows = lay.t2i_rows(["" if d else p for p, d in zip(prompts, drop.tolist())], image)
    logits = backend.model.llm(
        input_ids=rows, attention_mask=attn_mask(t2i_mask(rows, lay.pad, lay.tid("<|soi|>"), lay.tid("<|eoi|>")))
    ).logits
    labels = torch.full_like(rows, -100)
    labels[:, lay.image_slice()] = torch.where(masked, toks + lay.text_vocab, -100)
    labels[:, lay.text_width], labels[:, -1] = lay.tid("<|soi|>"), lay.tid("<|eoi|>")
    want = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
    assert torch.allclose(loss, want, atol=1e-5)
    assert masked.sum(1).min() >= 1
