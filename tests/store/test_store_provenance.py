"""provenance(): the expected keys, never raising, even without git."""

from __future__ import annotations

import hashlib
import json

from unigap.store import provenance, sha256_file
from unigap.store.provenance import git_info

KEYS = {"unigap_version", "git_commit", "git_dirty", "python", "platform", "packages", "device", "hostname", "time"}


def test_provenance_has_the_keys_and_is_json():
    info = provenance({"seeds": {"seed": 3}, "checkpoint_sha256": "ab" * 32})
    assert KEYS <= set(info)
    assert info["seeds"] == {"seed": 3} and info["checkpoint_sha256"] == "ab" * 32
    assert set(info["packages"]) == {"torch", "numpy", "transformers", "accelerate", "peft", "datasets"}
    assert info["packages"]["numpy"] is not None
    assert "cuda_available" in info["device"] and "device_name" in info["device"]
    assert info["git_commit"] is None or len(info["git_commit"]) == 40
    json.dumps(info)


def test_not_a_git_checkout(tmp_path):
    assert git_info(tmp_path) == {"commit": None, "dirty": None}


def test_git_missing(monkeypatch):
    monkeypatch.setenv("PATH", "")
    info = provenance()
    assert info["git_commit"] is None and info["git_dirty"] is None


def test_sha256_file(tmp_path):
    path = tmp_path / "w.bin"
    data = bytes(range(256)) * 5000
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest() == sha256_file(path, chunk=1000)
