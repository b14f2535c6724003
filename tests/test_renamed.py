"""Old spellings users may have in configs, overrides, Python calls or stored runs still work, with a
FutureWarning naming the new one (unigap.config: `renamed`, `renamed_values`)."""

import warnings
from pathlib import Path

import pytest

from unigap.audit.runner import AuditConfig
from unigap.config import diff_keys, load_config, upgraded
from unigap.errors import ConfigError
from unigap.pipeline.run import RunConfig
from unigap.training.config import ImproveConfig
from unigap.training.pretrain import PretrainConfig

# (config class, YAML with the old spelling, its line, old key, new key, where the value lands)
RENAMES = [
    (AuditConfig, "n: 2\nbatch_size: 8\n", 2, "batch_size", "chunk_size", lambda c: c.chunk_size),
    (RunConfig, "n: 2\nbatch_size: 8\n", 2, "batch_size", "chunk_size", lambda c: c.chunk_size),
    (
        RunConfig,
        "improve:\n  epochs: 8\n  batch_size: 8\n",
        3,
        "improve.batch_size",
        "improve.train_batch_size",
        lambda c: c.improve.train_batch_size,
    ),
    (ImproveConfig, "batch_size: 8\n", 1, "batch_size", "train_batch_size", lambda c: c.train_batch_size),
    (PretrainConfig, "steps: 3\nbatch_size: 8\n", 2, "batch_size", "train_batch_size", lambda c: c.train_batch_size),
]


@pytest.mark.parametrize("cls, text, line, old, new, value", RENAMES, ids=[f"{r[0].__name__}.{r[3]}" for r in RENAMES])
def test_a_renamed_key_in_a_file_is_read_and_named(tmp_path, cls, text, line, old, new, value):
    path = tmp_path / "old.yaml"
    path.write_text(text)
    with pytest.warns(FutureWarning, match=rf"old.yaml:{line}: key '{old}' is now '{new}'"):
        cfg = load_config(cls, path)
    assert value(cfg) == 8
    with pytest.warns(FutureWarning, match=rf"override '{old}=8': key '{old}' is now '{new}'"):
        assert value(load_config(cls, None, [f"{old}=8"])) == 8


def test_the_new_names_warn_of_nothing(tmp_path):
    path = tmp_path / "new.yaml"
    path.write_text("chunk_size: 8\nimprove:\n  train_batch_size: 4\n  grpo:\n    rewards: [{name: self-frozen}]\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cfg = load_config(RunConfig, path)
    assert (cfg.chunk_size, cfg.improve.train_batch_size, cfg.model.batch_size) == (8, 4, 64)


def test_old_and_new_name_together_is_an_error(tmp_path):
    path = tmp_path / "both.yaml"
    path.write_text("batch_size: 8\nchunk_size: 16\n")
    with pytest.raises(ConfigError, match=r"both.yaml:1: 'batch_size' and 'chunk_size' are both given"):
        load_config(AuditConfig, path)


def test_the_model_batch_size_is_not_renamed(tmp_path):
    """model.batch_size (rows per forward pass) keeps its name; only the audit's chunk and the training batch moved."""
    path = tmp_path / "m.yaml"
    path.write_text("model:\n  batch_size: 4\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_config(AuditConfig, path).model.batch_size == 4


def test_python_callers_get_the_same_warning():
    with pytest.warns(FutureWarning, match="ImproveConfig: key 'batch_size' is now 'train_batch_size'"):
        assert ImproveConfig(batch_size=4).train_batch_size == 4


def test_a_renamed_reward_name_is_read_and_named(tmp_path):
    path = tmp_path / "grpo.yaml"
    path.write_text("method: grpo\ntrain_batch_size: 8\ngrpo:\n  rewards: [{name: self_frozen}, {name: self}]\n")
    with pytest.warns(FutureWarning, match=r"grpo.rewards\[0\].name: 'self_frozen' is now 'self-frozen'"):
        cfg = load_config(ImproveConfig, path)
    assert [r.name for r in cfg.grpo.rewards] == ["self-frozen", "self"]


def test_a_stored_config_with_old_names_is_no_other_config():
    """A run or checkpoint made before the rename resumes: its stored config is compared as read today."""
    now = RunConfig().model_dump(mode="json")
    old = upgraded(RunConfig, now)  # a copy
    old["batch_size"] = old.pop("chunk_size")
    old["improve"]["batch_size"] = old["improve"].pop("train_batch_size")
    old["improve"]["grpo"]["rewards"] = [{"name": "self_frozen", "weight": 1.0, "options": {}}]
    now["improve"]["grpo"]["rewards"] = [{"name": "self-frozen", "weight": 1.0, "options": {}}]
    assert diff_keys(old, now) != []  # compared as written, the names differ
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # silently: the user did not write the stored config
        assert diff_keys(old, now, cls=RunConfig) == []
    old["improve"]["batch_size"] = 7
    assert diff_keys(old, now, cls=RunConfig) == ["improve.train_batch_size"]


def test_a_pretraining_card_written_before_the_rename_is_still_this_config(tmp_path):
    """`unigap pretrain` reruns nothing when OUT holds the finished checkpoint of the config: a card that
    records the recipe under the old key (`batch_size`) is still recognised as this config's."""
    import json
    import shutil

    from unigap.models.tiny.checkpoint import resolve_path
    from unigap.training.pretrain import published

    cfg = load_config(PretrainConfig, Path(__file__).resolve().parents[1] / "configs" / "pretrain_tiny.yaml")
    out = shutil.copytree(resolve_path("tiny"), tmp_path / "tiny")
    assert published(out, cfg)
    card = json.loads((out / "card.json").read_text())
    card["pretrain"]["batch_size"] = card["pretrain"].pop("train_batch_size")
    (out / "card.json").write_text(json.dumps(card))
    assert published(out, cfg)
    card["pretrain"]["batch_size"] = 32
    (out / "card.json").write_text(json.dumps(card))
    assert not published(out, cfg)
