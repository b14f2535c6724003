"""Shared fixtures: tiny versions of everything, built in well under a second."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from tests._runs import small_run_config
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
    cfg = TinyConfig(
        text_vocab=len(tok),
        image_vocab=codec.size,
        n_image_tokens=codec.num_tokens,
        prompt_len=24,
        feature_dim=features.shape[1],
        block_size=128,
        n_layer=2,
        n_head=2,
        n_embd=32,
    )
    model = TinyUnified(cfg).eval()
    model.set_code_features(features)
    return TinyCheckpoint(model, tok, codec, {"sampling": {"cfg_scale": 2.0}})


@pytest.fixture(autouse=True)
def one_thread():
    """Every test runs torch on one thread: the models are tiny and CI has 2 cores (more threads only add
    contention, up to 20x slower for the tiny Janus here); subprocesses a test starts are not affected."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def tiny_ckpt_dir(tmp_path_factory):
    """A random-weight tiny checkpoint directory (same format as the shipped one)."""
    path = tmp_path_factory.mktemp("tiny_ckpt")
    save_checkpoint(make_tiny_checkpoint(), path)
    return path


@pytest.fixture
def artifact_dir(tmp_path) -> Path:
    """Where a test leaves files for a person to look at (screenshots): $UNIGAP_TEST_ARTIFACTS if set
    (created), else the test's tmp_path. Tests never write into the repository."""
    env = os.environ.get("UNIGAP_TEST_ARTIFACTS")
    if not env:
        return tmp_path
    path = Path(env)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory, tiny_ckpt_dir) -> Path:
    """One whole `run_loop` (audit, curate, improve, eval audits, win rate, analyse, report), run once per
    session and shared by every test that needs a finished run. Read it; a test that changes a run
    copies it first (shutil.copytree(finished_run, tmp_path / "run"))."""
    from unigap.pipeline.run import run_loop

    out = tmp_path_factory.mktemp("finished_run")
    run_loop(small_run_config(tiny_ckpt_dir), out, log=lambda m: None)
    return out
