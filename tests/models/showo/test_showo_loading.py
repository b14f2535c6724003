"""Loading: official key names (a key list written from the official code), errors that name keys,
not-a-Show-o directories, codebook / resolution mismatches."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from unigap.errors import CheckpointError
from unigap.models.showo.loading import SHOWO_KEYMAP, VQ_KEYMAP, map_keys

from .conftest import load
from .official_keys import magvit_keys, showo_keys


def test_checkpoint_files_carry_exactly_the_official_key_names(showo_dir):
    showo = load_file(str(showo_dir / "pytorch_model.safetensors"))
    vq = load_file(str(showo_dir / "vq" / "pytorch_model.safetensors"))
    assert sorted(showo) == sorted(showo_keys(layers=2))
    assert sorted(vq) == sorted(magvit_keys(32, (1, 1, 2), (1, 1, 1), (1, 1, 2), (1, 1, 1)))


def test_official_names_map_onto_every_model_weight_and_load_strictly(backend, showo_dir):
    official = {k: torch.zeros(1) for k in showo_keys(2)}
    official_vq = {k: torch.zeros(1) for k in magvit_keys(32, (1, 1, 2), (1, 1, 1), (1, 1, 2), (1, 1, 1))}
    ours = set(map_keys(official, SHOWO_KEYMAP)) | set(map_keys(official_vq, VQ_KEYMAP))
    assert ours == set(backend.model.state_dict())
    # The reloaded weights equal the file's (strict: nothing random left behind).
    file = load_file(str(showo_dir / "pytorch_model.safetensors"))
    w = backend.model.state_dict()
    assert torch.equal(
        w["llm.model.layers.1.self_attn.dense.weight"], file["showo.model.layers.1.self_attn.dense.weight"]
    )
    assert w["llm.lm_head.bias"].shape == (backend.cfg.vocab_size,)


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_missing_and_unexpected_keys_are_named(showo_dir, tmp_path):
    d = _copy(showo_dir, tmp_path / "c")
    state = load_file(str(d / "pytorch_model.safetensors"))
    state["showo.extra.weight"] = state.pop("showo.model.layers.0.mlp.fc1.weight")
    save_file(state, str(d / "pytorch_model.safetensors"))
    with pytest.raises(CheckpointError) as err:
        load(d)
    msg = str(err.value)
    assert "1 missing key(s): ['showo.model.layers.0.mlp.fc1.weight']" in msg
    assert "1 unexpected key(s): ['showo.extra.weight']" in msg


def test_a_directory_that_is_not_show_o_says_what_it_found(tmp_path):
    (tmp_path / "janus").mkdir()
    (tmp_path / "janus" / "config.json").write_text(json.dumps({"model_type": "janus"}))
    with pytest.raises(CheckpointError, match="not a Show-o checkpoint: config.json describes 'janus'"):
        load(tmp_path / "janus")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(CheckpointError, match=r"no config.json \(found: notes.txt\)"):
        load(tmp_path / "empty")


def test_codebook_mismatch_names_both_sizes(showo_dir, tmp_path):
    d = _copy(showo_dir, tmp_path / "c")
    cfg = json.loads((d / "config.json").read_text())
    cfg["codebook_size"] = 128
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"codebook_size 128 in config.json, but the MAGVIT-v2 tokenizer has 64"):
        load(d)


def test_resolution_mismatch_names_both(showo_dir):
    with pytest.raises(CheckpointError, match=r"resolution 32, but num_vq_tokens 16 \(4x4\).*means 16 px"):
        load(showo_dir, resolution=32)
