"""Parallel decoding: the cosine mask schedule, temperature annealing, CFG on fixed logits,
per-candidate noise (batch independence), non-finite logits."""

from __future__ import annotations

import math

import pytest
import torch

from unigap.errors import UnigapError
from unigap.models.base import SamplingConfig
from unigap.models.showo.sampling import DecodeSpec, decode, guide, mask_lengths, temperatures


def test_mask_schedule_unmasks_per_step_and_leaves_nothing_masked():
    m, steps = 256, 18
    n = mask_lengths(m, steps)
    assert n[0] == math.floor(256 * math.cos(math.pi / 2 / 18))  # 255
    assert all(a > b for a, b in zip(n[:-2], n[1:-1])) and n[-1] == 1
    K, seen, g = 8, [], torch.Generator().manual_seed(1)

    def logits_fn(image):  # records how many positions are still masked when called
        seen.append(int((image == 99).sum()))
        return torch.randn(image.shape[0], m, K, generator=g) * 3  # no confidence ties

    gens = [torch.Generator().manual_seed(0)]
    codes = decode(logits_fn, m, 99, 10, DecodeSpec(steps, 0.0, 1.0), gens, torch.device("cpu"))
    assert seen == [m] + n[:-1]  # step s starts with the previous step's mask length
    assert codes.shape == (1, m) and int(codes.min()) >= 0 and int(codes.max()) < K  # nothing left masked


def test_temperature_anneals_as_the_official_running_product():
    t = temperatures(2.0, 4)
    assert t == pytest.approx([2.0 * 0.75, 2.0 * 0.75 * 0.5, 2.0 * 0.75 * 0.5 * 0.25, 0.0])


def test_cfg_formula_on_fixed_logits():
    cond, uncond = torch.tensor([[2.0, -1.0, 0.5]]), torch.tensor([[1.0, 1.0, 0.0]])
    assert torch.allclose(guide(cond, uncond, 1.75), torch.tensor([[3.75, -4.5, 1.375]]))  # (1+g)c - g u
    assert torch.equal(guide(cond, uncond, 0.0), cond)


def test_a_candidate_does_not_depend_on_its_batch(backend, prompts):
    s = SamplingConfig(cfg_scale=1.75, temperature=1.0, top_k=0)
    together = backend.generate_tokens(prompts, [11, 22, 33], s)
    alone = backend.generate_tokens(prompts[1:2], [22], s)
    assert torch.equal(together[1], alone[0])
    again = backend.generate_tokens(list(reversed(prompts)), [33, 22, 11], s)
    assert torch.equal(again.flip(0), together)
    assert not torch.equal(together[0], backend.generate_tokens(prompts[:1], [12], s)[0])  # the seed matters


def test_guidance_zero_runs_without_unconditional_rows(backend, prompts):
    calls = []
    hidden = backend.model.hidden
    backend.model.hidden = lambda ids, mask, *a: (calls.append(ids.shape[0]), hidden(ids, mask, *a))[1]
    try:
        backend.generate_tokens(prompts[:2], [1, 2], SamplingConfig(cfg_scale=0.0))
        backend.generate_tokens(prompts[:2], [1, 2], SamplingConfig(cfg_scale=1.75))
    finally:
        backend.model.hidden = hidden
    assert set(calls[: backend.steps]) == {2} and set(calls[backend.steps :]) == {4}  # cond + uncond in one forward


def test_non_finite_logits_name_the_prompt(backend, prompts):
    head = backend.model.head
    backend.model.head = lambda h, lo=0, hi=None: head(h, lo, hi) * float("nan")
    try:
        with pytest.raises(UnigapError, match=r"non-finite logits while decoding prompt 'a red circle' \(seed 5\)"):
            backend.generate_tokens(prompts[:1], [5], SamplingConfig(cfg_scale=0.0))
    finally:
        backend.model.head = head
