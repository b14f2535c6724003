"""Our Emu3 decode loop against transformers' `generate` with the docs' prefix constraint and CFG."""

from __future__ import annotations

import torch

from unigap.models.base import SamplingConfig
from unigap.models.emu3.decode import Layout
from unigap.models.emu3.text import negative_row
from unigap.models.janus.decode import left_pad


def allowed_tokens_fn(backend):
    """The constraint of transformers' Emu3 docs: visual tokens, an EOL after every row of W,
    then end of frame, end of image, EOS, then pad (written from the docs' description)."""
    tok, lay = backend.processor.tokenizer, backend.layout
    visual = backend.model.vocabulary_mapping.image_tokens
    wrapper = tok.convert_tokens_to_ids(tok.image_wrapper_token)
    h, w = lay.height, lay.width
    tail = {
        h * (w + 1) + 1: tok.convert_tokens_to_ids(tok.eof_token),
        h * (w + 1) + 2: tok.convert_tokens_to_ids(tok.eoi_token),
        h * (w + 1) + 3: tok.eos_token_id,
    }

    def fn(batch_id, input_ids):
        offset = input_ids.shape[0] - torch.nonzero(input_ids == wrapper)[0, 0].item()
        if offset % (w + 1) == 0:
            return [lay.eol]
        if offset in tail:
            return [tail[offset]]
        return [tok.pad_token_id] if offset > h * (w + 1) + 3 else visual

    return fn


def hf_generate(backend, prompts, **kw) -> torch.Tensor:
    """transformers' generate on the same rows; returns the visual codes (B, M)."""
    tok, lay = backend.processor.tokenizer, backend.layout
    ids, valid = left_pad(backend.rows(prompts), tok.pad_token_id)
    neg = torch.tensor([negative_row(backend.processor, backend.options.negative_prompt)] * len(prompts))
    total = lay.height * (lay.width + 1) + 3
    out = backend.model.generate(
        input_ids=ids,
        attention_mask=valid.long(),
        prefix_allowed_tokens_fn=allowed_tokens_fn(backend),
        negative_prompt_ids=neg,
        negative_prompt_attention_mask=torch.ones_like(neg),
        max_new_tokens=total,
        min_new_tokens=total,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        **kw,
    )
    seq = out[:, ids.shape[1] :]  # (B, total)
    assert (seq[:, lay.width :: lay.width + 1][:, : lay.height] == lay.eol).all()  # line ends where expected
    visual = seq[:, : lay.height * (lay.width + 1)].reshape(len(prompts), lay.height, lay.width + 1)[..., :-1]
    return backend.model.vocabulary_mapping.convert_bpe2img(
        torch.cat([visual, seq.new_full((len(prompts), lay.height, 1), lay.eol)], -1)
    ).flatten(1)


def ours(backend, prompts, seeds=None, sampler="gumbel", **sampling):
    seeds = seeds if seeds is not None else list(range(len(prompts)))
    # model_construct: greedy (temperature 0) is a decoder setting the run config does not offer
    cfg = SamplingConfig.model_construct(**{**SamplingConfig().model_dump(), **sampling})
    return backend.generate_tokens(prompts, seeds, cfg, sampler=sampler)


def test_layout_places_line_ends():
    lay = Layout(2, 3, eol=9)
    assert lay.steps == 7 and [t for t in range(lay.steps) if lay.is_eol(t)] == [3]
    assert lay.bpe_rows(torch.tensor([[1, 2, 3, 4, 5, 6]])).tolist() == [[1, 2, 3, 9, 4, 5, 6]]


def test_greedy_matches_transformers_generate(backend, prompts):
    """(a) token for token, prompts of different lengths (left padding), CFG with the negative prompt."""
    for scale in (1.0, 3.0):
        theirs = hf_generate(backend, prompts, do_sample=False, guidance_scale=scale, top_k=0)
        mine = ours(backend, prompts, cfg_scale=scale, temperature=0.0).tokens
        assert len(set(mine.flatten().tolist())) > 8  # a non-degenerate random model
        assert torch.equal(mine, theirs), scale


def test_multinomial_sampler_matches_transformers_generate(backend, prompts):
    """(b) transformers draws with torch.multinomial from the global RNG at every step (forced
    line ends included); with the same sampler and seed the tokens are equal."""
    for settings in (dict(cfg_scale=3.0, temperature=1.0, top_k=0), dict(cfg_scale=2.0, temperature=0.7, top_k=10)):
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
        assert torch.equal(mine, theirs), settings


def test_teacher_forced_logprobs_equal_sampling_logprobs(backend, prompts):
    result = ours(backend, prompts, seeds=[3, 4, 5], cfg_scale=1.0, temperature=1.0)
    forced = backend.image_token_logprobs(prompts, result.tokens)  # (B, M)
    torch.testing.assert_close(forced.detach(), result.logprobs, atol=1e-4, rtol=0)
    assert forced.requires_grad


def test_rows_do_not_depend_on_the_batch(backend, prompts):
    alone = ours(backend, prompts[:1], seeds=[11], cfg_scale=3.0).tokens
    batched = ours(backend, [prompts[1], prompts[0], prompts[2]], seeds=[7, 11, 9], cfg_scale=3.0).tokens
    assert torch.equal(batched[1:2], alone)
    backend.batch_size = 2
    chunked = ours(backend, [prompts[1], prompts[2], prompts[0]], seeds=[7, 9, 11], cfg_scale=3.0).tokens
    assert torch.equal(chunked[2:3], alone) and torch.equal(chunked[0], batched[0])
    assert not torch.equal(ours(backend, prompts[:1], seeds=[12], cfg_scale=3.0).tokens, alone)


def test_top_k_one_is_greedy(backend, prompts):
    greedy = ours(backend, prompts[:2], cfg_scale=2.0, temperature=0.0).tokens
    top1 = ours(backend, prompts[:2], seeds=[99, 98], cfg_scale=2.0, temperature=1.3, top_k=1).tokens
    assert torch.equal(greedy, top1)
