"""Understanding: greedy answers (KV cache = full recompute), parse and prob modes."""

from __future__ import annotations

import torch

from unigap.models.base import SamplingConfig, SelfJudgeConfig
from unigap.models.showo.text import last_logits
from unigap.verdict import judgment_from_answer as _parsed
from unigap.verdict import question


def _images(backend, prompts):
    return backend.generate(prompts, list(range(len(prompts))), SamplingConfig(cfg_scale=0.0)).images


def test_cached_greedy_equals_recomputing_the_whole_sequence(backend, prompts):
    from unigap.models.showo.text import _until_eos, greedy

    images = _images(backend, prompts[:2])
    rows = backend._rows(images, [question(p) for p in prompts[:2]])
    cached = greedy(backend.model, backend._batch(rows), 4, backend.layout.eos)
    full = [[] for _ in rows]
    for _ in range(4):  # the official way: re-run everything, append the argmax
        nxt = last_logits(backend.model, backend._batch(rows)).argmax(-1).tolist()
        rows = [r + [t] for r, t in zip(rows, nxt)]
        full = [f + [t] for f, t in zip(full, nxt)]
    assert cached == [_until_eos(f, backend.layout.eos) for f in full]


def test_an_answer_does_not_depend_on_its_batch(backend, prompts):
    images = _images(backend, prompts)
    qs = [question(p) for p in prompts]
    assert backend.answer(images, qs, 6)[2] == backend.answer(images[2:], qs[2:], 6)[0]


def test_parse_mode_accepts_show_o_answers():
    assert _parsed("Yes, the image depicts a red circle.").verdict == 1
    assert _parsed("No, there is no cat.").verdict == 0
    assert _parsed("The score is 1.").verdict == 1 and _parsed("The score is 0").verdict == 0
    bad = _parsed("a picture")
    assert bad.verdict is None and bad.status == "unparsed"


def test_parse_mode_keeps_the_raw_answer(backend, prompts):
    images = _images(backend, prompts[:2])
    js = backend.judge(images, prompts[:2], SelfJudgeConfig(mode="parse", max_new_tokens=5))
    assert [j.raw for j in js] == backend.answer(images, [question(p) for p in prompts[:2]], 5)


def test_prob_mode_compares_the_two_answer_tokens(backend, prompts):
    images = _images(backend, prompts[:2])
    js = backend.judge(images, prompts[:2], SelfJudgeConfig(mode="prob", threshold=0.5))
    lay = backend.layout
    q = question(prompts[0])
    rows = backend._rows(images[:1], [q], " The score is")
    logits = last_logits(backend.model, backend._batch(rows))[0]
    one, zero = lay.encode("1")[0], lay.encode("0")[0]
    want = torch.softmax(logits[[one, zero]], 0)[0].item()
    assert abs(js[0].prob - want) < 1e-5 and js[0].verdict == int(want > 0.5)
    assert js[0].raw == f"The score is {js[0].verdict}."


def test_yes_no_prob_mode(showo_dir, prompts):
    from .conftest import load

    b = load(showo_dir, steps=2, judge_prob="yes_no")
    images = _images(b, prompts[:1])
    j = b.judge(images, prompts[:1], SelfJudgeConfig(mode="prob"))[0]
    logits = last_logits(b.model, b._batch(b._rows(images, [question(prompts[0])])))[0]
    yes, no = b.layout.encode("Yes")[0], b.layout.encode("No")[0]
    assert abs(j.prob - torch.softmax(logits[[yes, no]], 0)[0].item()) < 1e-5
    assert j.raw in ("Yes.", "No.")
