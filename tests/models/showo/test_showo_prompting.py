"""Sequence layouts (t2i, MMU) and Show-o's attention masks."""

from __future__ import annotations

import logging

import torch

from unigap.models.showo.model import mmu_mask, t2i_mask


def test_t2i_layout_and_truncation_warning(backend, caplog):
    lay = backend.layout
    image = torch.full((2, 16), lay.mask_id)
    with caplog.at_level(logging.WARNING):
        rows = lay.t2i_rows(["a red circle", " ".join(["red"] * 200)], image)
    assert rows.shape == (2, lay.max_text_len + 1 + 16 + 2)  # 129 text + soi + M + eoi
    r = rows[0].tolist()
    assert r[: lay.text_width - 6] == [lay.pad] * (lay.text_width - 6)
    assert r[lay.text_width - 6 : lay.text_width] == [lay.tid("<|t2i|>"), lay.bos] + lay.encode("a red circle") + [
        lay.eos
    ]
    assert r[lay.text_width] == lay.tid("<|soi|>") and r[-1] == lay.tid("<|eoi|>")
    long = rows[1].tolist()
    assert lay.pad not in long and long[lay.text_width - 1] == lay.eos  # truncated, <|eot|> kept
    assert "1 of 2 prompts longer than the text budget" in caplog.text
    assert lay.mask_id == backend.cfg.vocab_size - 1 and lay.text_vocab == backend.cfg.llm_vocab_size + 10


def test_t2i_mask_is_causal_over_text_and_full_over_the_image():
    pad, soi, eoi = 0, 8, 9
    ids = torch.tensor([[0, 0, 5, 6, 7, 8, 20, 21, 22, 9]])
    a = t2i_mask(ids, pad, soi, eoi)[0]
    assert a[3].tolist() == [False, False, True, True] + [False] * 6  # text: causal, never the pads
    for r in range(5, 10):  # soi, image tokens, eoi: every non-pad position, both directions
        assert a[r].tolist() == [False, False] + [True] * 8
    assert a[1, :2].tolist() == [True, True]  # a pad row sees the earlier pads (no empty row)


def test_mmu_mask_sees_the_whole_image_prefix():
    valid = torch.tensor([[False, True, True, True, True, True, True]])
    a = mmu_mask(valid, torch.tensor([4]))[0]  # pad | mmu soi img eoi | sot q
    assert a[1].tolist() == [False, True, True, True, True, False, False]  # mmu token sees the image block
    assert a[5].tolist() == [False, True, True, True, True, True, False]
    assert a[0].tolist() == [True] + [False] * 6


def test_mmu_row_is_the_official_prompt(backend):
    lay = backend.layout
    row = lay.mmu_prefix([1, 2] + [0] * 14, "Is it red?")
    head = [lay.tid("<|mmu|>"), lay.tid("<|soi|>"), lay.text_vocab + 1, lay.text_vocab + 2]
    assert row[:4] == head and row[18:20] == [lay.tid("<|eoi|>"), lay.bos]
    assert row[20:] == lay.encode("USER: \nIs it red? ASSISTANT:")


def test_a_prompt_that_already_starts_with_sot_gets_no_second_one(backend):
    """Official t2i_gen_prompt prepends <|sot|> only when the tokenized text does not start with it."""
    lay = backend.layout
    ids, cut = lay.t2i_text("<|endoftext|> a red circle")
    assert not cut
    assert ids[-6:] == [lay.tid("<|t2i|>"), lay.bos] + lay.encode("a red circle") + [lay.eos]
    assert ids.count(lay.bos) == 2  # <|sot|> and <|eot|>: one token in Phi (<|endoftext|>)
