import pytest

from unigap.config import Config, diff_keys, load_config
from unigap.errors import ConfigError


class Inner(Config):
    lr: float = 1e-3


class Outer(Config):
    n: int = 10
    inner: Inner = Inner()


def test_yaml_and_overrides(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("n: 4\ninner:\n  lr: 0.5\n")
    cfg = load_config(Outer, p, ["inner.lr=0.25"])
    assert cfg.n == 4 and cfg.inner.lr == 0.25


def test_unknown_key_names_key_and_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("n: 4\ninner:\n  lrr: 0.5\n")
    with pytest.raises(ConfigError) as err:
        load_config(Outer, p)
    assert "inner.lrr" in str(err.value) and "bad.yaml" in str(err.value)


def test_bad_value_and_bad_override(tmp_path):
    with pytest.raises(ConfigError, match="'n'"):
        load_config(Outer, None, ["n=many"])
    with pytest.raises(ConfigError, match="key=value"):
        load_config(Outer, None, ["n"])


def test_diff_keys():
    assert diff_keys({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}, "d": 0}) == ["a.c", "d"]
