"""Our decode loop against transformers' own Janus image generate, on a tiny random Janus."""

from __future__ import annotations

import logging

import pytest
import torch

from unigap.models.base import SamplingConfig
from unigap.models.janus import decode as D
from unigap.models.janus.hf_reference import hf_image_generate
from unigap.models.janus.text import generation_rows
from unigap.utils import left_pad


def hf_generate(backend, prompts, **kw) -> torch.Tensor:
    """transformers' generate(generation_mode="image") on the same token rows our loop gets.

    transformers 5.17 crashes inside its own image generate unless it is handed a cache; then the
    reference runs with a DynamicCache instead of its default static one (same maths).
    """
    ids, valid = left_pad(generation_rows(backend.processor, prompts), backend.special.pad)
    try:
        return hf_image_generate(backend.model, ids, valid.long(), backend.special, **kw)
    except TypeError as err:
        if "_prepare_static_cache" not in str(err):
            raise
        return hf_image_generate(backend.model, ids, valid.long(), backend.special, dynamic_cache=True, **kw)


def ours(backend, prompts, seeds=None, sampler="gumbel", **sampling) -> D.DecodeResult:
    seeds = seeds if seeds is not None else list(range(len(prompts)))
    # model_construct: greedy (temperature 0) is a decoder setting for parity with transformers'
    # do_sample=False; a user's SamplingConfig requires temperature > 0.
    return backend.generate_tokens(prompts, seeds, SamplingConfig.model_construct(**sampling), sampler=sampler)


def test_prompt_batch_left_pads_and_builds_null_prompts():
    special = D.SpecialIds(pad=2, bos=0, boi=5)
    batch = D.build_prompt_batch([[0, 7, 8, 5], [0, 9, 5]], special, guided=True, round_to=8)
    assert batch.ids.shape == (4, 8)
    assert batch.ids[1].tolist() == [2] * 5 + [0, 9, 5]
    assert batch.ids[2, -4:].tolist() == [0, 2, 2, 5]  # uncond of row 0: only BOS and BOI survive
    assert batch.valid[3].tolist() == batch.valid[1].tolist()
    assert batch.positions[1, -3:].tolist() == [0, 1, 2] and batch.lengths.tolist() == [4, 3, 4, 3]


@pytest.mark.parametrize("scale", [1.5, 5.0])
def test_greedy_matches_transformers_generate(backend, prompts, scale):
    """(a) token for token, a batch of prompts of different lengths (left padding in both)."""
    theirs = hf_generate(backend, prompts, do_sample=False, guidance_scale=scale, top_k=0)
    mine = ours(backend, prompts, cfg_scale=scale, temperature=0.0).tokens
    assert len(set(mine.flatten().tolist())) > 8  # a non-degenerate random model
    assert torch.equal(mine, theirs)


@pytest.mark.parametrize(
    "settings", [dict(cfg_scale=5.0, temperature=1.0, top_k=0), dict(cfg_scale=3.0, temperature=0.7, top_k=10)]
)
def test_multinomial_sampler_matches_transformers_generate(backend, prompts, settings):
    """(b) transformers draws with torch.multinomial from the global RNG; same seed, same tokens."""
    torch.manual_seed(1234)
    theirs = hf_generate(
        backend,
        prompts,
        do_sample=True,
        guidance_scale=settings["cfg_scale"],
        temperature=settings["temperature"],
        top_k=settings["top_k"],
    )
    torch.manual_seed(1234)
    mine = ours(backend, prompts, sampler="multinomial", **settings).tokens
    assert torch.equal(mine, theirs)


def test_teacher_forced_logprobs_equal_sampling_logprobs(backend, prompts):
    """(c) no CFG, temperature 1: the decode loop's log-probs are the model's conditional ones."""
    result = ours(backend, prompts, seeds=[3, 4, 5], cfg_scale=1.0, temperature=1.0)
    forced = backend.image_token_logprobs(prompts, result.tokens)  # (B, M)
    torch.testing.assert_close(forced.detach(), result.logprobs, atol=1e-4, rtol=0)
    assert forced.requires_grad


def test_rows_do_not_depend_on_the_batch(backend, prompts):
    """(d) a row's tokens depend on (prompt, seed, settings) only: alone, in a batch, in chunks."""
    alone = ours(backend, prompts[:1], seeds=[11], cfg_scale=5.0).tokens
    batched = ours(backend, [prompts[1], prompts[0], prompts[2]], seeds=[7, 11, 9], cfg_scale=5.0).tokens
    assert torch.equal(batched[1:2], alone)
    backend.batch_size = 2
    chunked = ours(backend, [prompts[1], prompts[2], prompts[0]], seeds=[7, 9, 11], cfg_scale=5.0).tokens
    assert torch.equal(chunked[2:3], alone) and torch.equal(chunked[0], batched[0])
    other_seed = ours(backend, prompts[:1], seeds=[12], cfg_scale=5.0).tokens
    assert not torch.equal(other_seed, alone)


def test_top_k_restricts_to_the_k_best_guided_codes(backend, prompts):
    """Sampled tokens at top_k=1 are the greedy ones, whatever the seed."""
    greedy = ours(backend, prompts[:2], cfg_scale=2.0, temperature=0.0).tokens
    top1 = ours(backend, prompts[:2], seeds=[99, 98], cfg_scale=2.0, temperature=1.3, top_k=1).tokens
    assert torch.equal(greedy, top1)


def test_attention_buckets_do_not_change_tokens(backend, prompts, monkeypatch):
    reference = ours(backend, prompts, cfg_scale=5.0).tokens
    monkeypatch.setattr(D, "BUCKET", 4)
    assert torch.equal(ours(backend, prompts, cfg_scale=5.0).tokens, reference)


def test_decode_loop_never_syncs_with_the_host(backend, prompts, monkeypatch):
    """No .item(), .tolist() or tensor truthiness inside the decoder (CUDA would block on each)."""
    rows = generation_rows(backend.processor, prompts)

    def forbidden(*args, **kwargs):
        raise AssertionError("host sync inside the decode loop")

    for name in ("item", "tolist", "__bool__"):
        monkeypatch.setattr(torch.Tensor, name, forbidden)
    out = backend.decoder(rows, [1, 2, 3], D.DecodeSettings(cfg_scale=5.0, top_k=5))
    monkeypatch.undo()
    assert out.tokens.shape == (3, backend.num_image_tokens)


def test_out_of_memory_halves_the_batch_and_continues(backend, prompts, monkeypatch, caplog):
    reference = ours(backend, prompts, seeds=[1, 2, 3]).tokens
    real = backend.decoder.__call__

    def small_memory(rows, seeds, settings):
        if len(rows) > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(rows, seeds, settings)

    monkeypatch.setattr(
        backend, "decoder", type("Fake", (), {"__call__": staticmethod(small_memory), "release": lambda self: None})()
    )
    with caplog.at_level(logging.WARNING):
        tokens = ours(backend, prompts, seeds=[1, 2, 3]).tokens
    assert torch.equal(tokens, reference) and backend.batch_size == 1
    assert "out of GPU memory" in caplog.text


def test_reference_with_a_dynamic_cache_gives_the_same_tokens(backend, prompts):
    """The fallback reference for transformers 5.17 (whose default static cache crashes)."""
    ids, valid = left_pad(generation_rows(backend.processor, prompts), backend.special.pad)
    dynamic = hf_image_generate(
        backend.model, ids, valid.long(), backend.special, dynamic_cache=True, do_sample=False, guidance_scale=3.0
    )
    assert torch.equal(dynamic, hf_generate(backend, prompts, do_sample=False, guidance_scale=3.0))
