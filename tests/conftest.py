"""Shared fixtures: tiny versions of everything, built in well under a second."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unigap.models.tiny.checkpoint import TinyCheckpoint, save_checkpoint
from unigap.models.tiny.codec import SlotCodec
from unigap.models.tiny.model import TinyConfig, TinyUnified
from unigap.models.tiny.tokenizer import WordTokenizer
from unigap.verdict import question

WORDS = "a an red blue green circle square triangle cross big small and The score is 0 1 . How many objects are there ?"


def make_tiny_checkpoint(seed: int = 0) -> TinyCheckpoint:
    torch.manual_seed(seed)
    tok = WordTokenizer.build([WORDS, question("a red circle")])
    codec = SlotCodec()
    features = codec.features()
    cfg = TinyConfig(text_vocab=len(tok), image_vocab=codec.size, n_image_tokens=codec.num_tokens, prompt_len=24,
                     feature_dim=features.shape[1],
                     block_size=128, n_layer=2, n_head=2, n_embd=32)
    model = TinyUnified(cfg).eval()
    model.set_code_features(features)
    return TinyCheckpoint(model, tok, codec, {"sampling": {"cfg_scale": 2.0}})


@pytest.fixture(scope="session")
def tiny_ckpt_dir(tmp_path_factory):
    """A random-weight tiny checkpoint directory (same format as the shipped one)."""
    path = tmp_path_factory.mktemp("tiny_ckpt")
    save_checkpoint(make_tiny_checkpoint(), path)
    return path
