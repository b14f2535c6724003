"""Converting the original deepseek-ai Janus format: once, cached by sha256, never into the source; bad input.

Uses the official-format fixture checkpoint (tests/fixtures/official/janus/checkpoint, written by the
official `janus` package) and copies of it edited the way checkpoints go wrong.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import stat
from pathlib import Path

import pytest
import torch

from unigap.errors import CheckpointError
from unigap.models.base import ModelConfig
from unigap.models.janus.convert import RECORD, cache_root
from unigap.models.janus.convert_keys import convert_key
from unigap.models.janus.loading import resolve_checkpoint

FIXTURE = Path(__file__).parents[2] / "fixtures" / "official" / "janus" / "checkpoint"
SHARD_2 = "pytorch_model-00002-of-00002.bin"


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("UNIGAP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def src(tmp_path) -> Path:
    out = tmp_path / "Janus-Pro-tiny"
    shutil.copytree(FIXTURE, out)
    return out


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(path: Path) -> dict[str, str]:
    return {p.name: sha256(p) for p in sorted(path.iterdir())}


def nothing_converted(cache: Path) -> bool:
    return not (cache / "janus-converted").exists() or not any((cache / "janus-converted").iterdir())


def edit_shard(src: Path, edit) -> None:
    tensors = torch.load(src / SHARD_2, weights_only=True)
    edit(tensors)
    torch.save(tensors, src / SHARD_2)


def read_only(path: Path) -> None:
    for p in [path, *path.iterdir()]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def test_converts_once_into_the_cache_keyed_by_the_source_sha256(src, cache, caplog):
    before = tree(src)
    read_only(src)  # any write into the source would fail
    try:
        with caplog.at_level(logging.INFO, logger="unigap.models.janus.convert"):
            first = resolve_checkpoint(str(src))
    finally:
        for p in [src, *src.iterdir()]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    assert tree(src) == before
    files = {name: before[name] for name in before}
    digest = hashlib.sha256(json.dumps(sorted(files.items())).encode()).hexdigest()
    assert first.source_sha256 == digest and Path(first.path) == cache / "janus-converted" / digest
    record = json.loads((Path(first.path) / RECORD).read_text())
    assert record["source_sha256"] == digest and record["source_files"] == files
    assert record["outputs"] == {n: h for n, h in tree(Path(first.path)).items() if n != RECORD}
    assert "converting it once" in caplog.text
    stamps = {p.name: p.stat().st_mtime_ns for p in Path(first.path).iterdir()}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="unigap.models.janus.convert"):
        again = resolve_checkpoint(str(src))
    assert again == first and "cached conversion" in caplog.text and "converting" not in caplog.text
    assert {p.name: p.stat().st_mtime_ns for p in Path(again.path).iterdir()} == stamps


def test_two_loads_at_once_convert_once(src, caplog):
    """Every rank of a distributed run loads the checkpoint: one converts, the others wait and reuse it."""
    from concurrent.futures import ThreadPoolExecutor

    with caplog.at_level(logging.INFO, logger="unigap.models.janus.convert"), ThreadPoolExecutor(2) as pool:
        found = list(pool.map(lambda _: resolve_checkpoint(str(src)), range(2)))
    assert found[0] == found[1] and caplog.text.count("converting it once") == 1
    assert "cached conversion" in caplog.text


def test_the_backend_records_the_source_sha256(src):
    from unigap.models.janus.backend import load_janus

    backend = load_janus(ModelConfig(name="janus", path=str(src)))
    fp = backend.fingerprint()
    assert fp["path"] == str(src) and fp["source_sha256"] == resolve_checkpoint(str(src)).source_sha256
    assert fp["num_image_tokens"] == 16 and fp["codebook_size"] == 64


def test_a_cache_entry_that_no_longer_hashes_as_recorded_is_converted_again(src, caplog):
    first = Path(resolve_checkpoint(str(src)).path)
    shard = next(first.glob("model-*.safetensors"))
    good = sha256(shard)
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF  # the last byte of a tensor
    shard.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="unigap.models.janus.convert"):
        again = Path(resolve_checkpoint(str(src)).path)
    assert again == first and "does not hash as recorded" in caplog.text and sha256(shard) == good


def test_a_changed_source_is_a_new_cache_entry(src):
    first = resolve_checkpoint(str(src))
    config = json.loads((src / "tokenizer_config.json").read_text())
    (src / "tokenizer_config.json").write_text(json.dumps({**config, "model_max_length": 4096}))
    second = resolve_checkpoint(str(src))
    assert second.source_sha256 != first.source_sha256 and second.path != first.path
    assert Path(first.path).is_dir() and Path(second.path).is_dir()


@pytest.mark.parametrize("layout", ["model.safetensors", "sharded safetensors"])
def test_safetensors_sources_convert_to_the_same_weights(src, tmp_path, layout):
    """Fine-tunes (T2I-R1, Janus-Pro-R1) are saved by newer transformers: safetensors, one file or sharded."""
    from safetensors.torch import load_file, save_file

    reference = {
        k: v
        for p in sorted(Path(resolve_checkpoint(str(src)).path).glob("*.safetensors"))
        for k, v in load_file(str(p)).items()
    }
    state = {
        **torch.load(src / "pytorch_model-00001-of-00002.bin", weights_only=True),
        **torch.load(src / SHARD_2, weights_only=True),
    }
    other = tmp_path / "st"
    shutil.copytree(src, other, ignore=shutil.ignore_patterns("pytorch_model*"))
    if layout == "model.safetensors":
        save_file(state, str(other / "model.safetensors"))
    else:
        names = sorted(state)
        halves = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
        for file, keys in halves.items():
            save_file({k: state[k] for k in keys}, str(other / file))
        index = {"weight_map": {k: f for f, keys in halves.items() for k in keys}}
        (other / "model.safetensors.index.json").write_text(json.dumps(index))
    converted = {
        k: v
        for p in sorted(Path(resolve_checkpoint(str(other)).path).glob("*.safetensors"))
        for k, v in load_file(str(p)).items()
    }
    assert converted.keys() == reference.keys()
    assert all(torch.equal(converted[k], reference[k]) for k in reference)


def test_every_language_config_field_reaches_the_llama_config_and_lm_head_stays_untied(src):
    from safetensors.torch import load_file
    from transformers import JanusConfig

    config = json.loads((src / "config.json").read_text())
    config["language_config"].update(rope_theta=50000.0, rms_norm_eps=1e-5)
    (src / "config.json").write_text(json.dumps(config))
    out = Path(resolve_checkpoint(str(src)).path)
    text = JanusConfig.from_pretrained(out).text_config
    assert (
        text.rms_norm_eps == 1e-5
        and (text.rope_parameters or {}).get("rope_theta", getattr(text, "rope_theta", None)) == 50000.0
    )
    weights = {k: v for p in out.glob("*.safetensors") for k, v in load_file(str(p)).items()}
    assert not torch.equal(weights["lm_head.weight"], weights["model.language_model.embed_tokens.weight"])


def test_a_hub_id_in_the_original_format_is_fetched_then_converted(src, monkeypatch):
    """deepseek-ai/Janus-Pro-7B: config.json says multi_modality; the snapshot is fetched, then converted."""
    import huggingface_hub

    from unigap.models.janus import loading

    asked = {}
    monkeypatch.setattr(loading, "read_config_dict", lambda path: {"model_type": "multi_modality"})
    monkeypatch.setattr(
        huggingface_hub,
        "snapshot_download",
        lambda repo, allow_patterns: asked.update(repo=repo, patterns=allow_patterns) or str(src),
    )
    found = resolve_checkpoint("deepseek-ai/Janus-Pro-7B")
    assert asked["repo"] == "deepseek-ai/Janus-Pro-7B" and "*.bin" in asked["patterns"]
    assert json.loads((Path(found.path) / RECORD).read_text())["source"] == str(src)


# --- bad input -----------------------------------------------------------------------------
def test_a_directory_in_neither_format_is_refused_naming_its_config(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llava"}))
    with pytest.raises(CheckpointError, match=r"config\.json: model_type 'llava': not a Janus checkpoint"):
        resolve_checkpoint(str(tmp_path))


def test_missing_tensors_are_named_with_the_index_and_nothing_is_written(src, cache):
    edit_shard(src, lambda t: [t.pop("gen_head.vision_head.weight"), t.pop("gen_embed.weight")])
    with pytest.raises(
        CheckpointError,
        match=r"pytorch_model\.bin\.index\.json: not a complete Janus .* 2 missing "
        r"tensor\(s\) .*model\.generation_embeddings\.weight, "
        r"model\.generation_head\.vision_head\.weight",
    ):
        resolve_checkpoint(str(src))
    assert nothing_converted(cache) and not (cache / "hashes.json").exists()


def test_unexpected_tensors_are_named_with_their_file(src, cache):
    def add(t):
        t["gen_head.extra_proj.weight"] = torch.zeros(2, 2)
        t["value_head.weight"] = torch.zeros(2, 2)

    edit_shard(src, add)
    with pytest.raises(
        CheckpointError,
        match=rf"2 unexpected tensor\(s\) in {SHARD_2}: gen_head\.extra_proj\.weight, "
        r"value_head\.weight",
    ):
        resolve_checkpoint(str(src))
    assert nothing_converted(cache)


def test_a_tensor_of_the_wrong_shape_is_named_with_both_shapes(src, cache):
    edit_shard(src, lambda t: t.__setitem__("gen_aligner.layers.2.weight", torch.zeros(32, 16)))
    with pytest.raises(
        CheckpointError,
        match=r"gen_aligner\.layers\.2\.weight -> model\.generation_aligner\."
        r"hidden_layers\.0\.weight: \(32, 16\) vs \(32, 32\)",
    ):
        resolve_checkpoint(str(src))
    assert nothing_converted(cache)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda src: (src / SHARD_2).unlink(), rf"index\.json: lists shard\(s\) that are not there: {SHARD_2}"),
        (lambda src: (src / SHARD_2).write_bytes(b"not a pickle"), rf"{SHARD_2}: not a readable PyTorch weights file"),
        (lambda src: (src / "tokenizer.json").unlink(), r"tokenizer\.json: missing"),
        (lambda src: (src / "preprocessor_config.json").write_text("{"), r"preprocessor_config\.json: not valid JSON"),
        (
            lambda src: (src / "config.json").write_text(json.dumps({"model_type": "multi_modality"})),
            r"config\.json: model_type multi_modality, but no language_config, vision_config",
        ),
        (
            lambda src: _set(src, "gen_vision_config", "cls", "VQ-8"),
            r"gen_vision_config\.cls = 'VQ-8'; the converter knows",
        ),
        (
            lambda src: _set(src, "vision_config", "params", {"image_size": 16, "model_name": "clip_vit_l"}),
            r"vision_config\.params\.model_name = 'clip_vit_l'",
        ),
    ],
)
def test_damaged_checkpoints_are_refused_naming_the_file(src, cache, damage, message):
    damage(src)
    with pytest.raises(CheckpointError, match=message):
        resolve_checkpoint(str(src))
    assert nothing_converted(cache)


def _set(src: Path, section: str, key: str, value) -> None:
    config = json.loads((src / "config.json").read_text())
    config[section][key] = value
    (src / "config.json").write_text(json.dumps(config))


def test_key_rules_cover_deeper_aligners_and_report_unknown_names():
    assert [t.name for t in convert_key("aligner.layers.4.bias")] == ["model.aligner.hidden_layers.1.bias"]
    assert convert_key("aligner.layers.1.weight") is None  # a GELU has no weights
    assert convert_key("vision_model.vision_tower.blocks.0.ls1.gamma") is None
    assert convert_key("gen_vision_model.quantize.codebook_used") == []
    qkv = convert_key("vision_model.vision_tower.blocks.3.attn.qkv.weight")
    parts = [t.apply(torch.arange(6.0).view(6, 1)).flatten().tolist() for t in qkv]
    assert [t.name.split(".")[-2] for t in qkv] == ["q_proj", "k_proj", "v_proj"] and parts == [[0, 1], [2, 3], [4, 5]]


def test_the_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("UNIGAP_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_root() == tmp_path / "unigap"
