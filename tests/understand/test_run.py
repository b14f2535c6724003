"""evaluate_backend's bad input: missing lmms-eval, task data that cannot be loaded, --data copies."""

from __future__ import annotations

import sys

import pytest

from tests.understand.conftest import MC_YAML, UTILS, toy_rows, write_toy_parquet
from unigap.models.base import ModelConfig


def test_missing_lmms_eval_names_the_extra(monkeypatch, tmp_path):
    from unigap.understand._lmms import EvalExtraMissing
    from unigap.understand.run import evaluate_backend

    monkeypatch.setitem(sys.modules, "lmms_eval", None)  # import lmms_eval -> ImportError
    with pytest.raises(EvalExtraMissing, match=r"unigap\[eval\]"):
        evaluate_backend(ModelConfig(name="tiny"), ["shapeworld_plain"], 1, tmp_path)
    assert not any(tmp_path.iterdir())  # nothing written


@pytest.fixture
def hub_task(tmp_path):
    """toy_mc with its data on the hub (a dataset that does not exist), hub access off."""
    d = tmp_path / "hub_tasks"
    d.mkdir()
    yaml = MC_YAML.replace("task: toy_mc", "task: toy_hub").replace(
        "dataset_path: parquet", "dataset_path: unigap-tests/no-such-dataset"
    )
    yaml = yaml.replace("  data_files:\n    test: toy.parquet\n", "  token: True\n")
    (d / "toy_hub.yaml").write_text(yaml)
    (d / "toy_utils.py").write_text(UTILS)
    return d


@pytest.fixture
def offline(monkeypatch):
    """Hub access off; lmms-eval's five download attempts without its 2 s waits."""
    import datasets
    import huggingface_hub.constants
    import tenacity
    from lmms_eval.api.task import ConfigurableTask

    monkeypatch.setattr(ConfigurableTask.download.retry, "wait", tenacity.wait_none())
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def test_unloadable_data_gives_lmms_evals_message_and_the_local_copy_hint(lmms, hub_task, tmp_path, scripted, offline):
    from unigap.understand.run import DataUnavailable, evaluate_backend

    with pytest.raises(DataUnavailable) as err:
        evaluate_backend(
            ModelConfig(name="scripted"),
            ["toy_hub"],
            None,
            tmp_path / "o",
            model=scripted(),
            options={"include_defaults": False, "include": [hub_task]},
        )
    msg = str(err.value)
    assert "task data could not be loaded" in msg and "toy_hub: unigap-tests/no-such-dataset" in msg
    assert "--data TASK=PATH" in msg and "HF_DATASETS_OFFLINE=1" in msg


def test_data_option_points_a_task_at_a_local_parquet(lmms, hub_task, tmp_path, scripted, offline):
    from tests.understand.conftest import COLORS
    from unigap.understand.run import evaluate_backend

    local = write_toy_parquet(toy_rows(6), tmp_path / "copy.parquet")
    red, green, blue = (tuple(c) for c in COLORS.values())
    backend = scripted({"What color is the image?": "red"}, best={red: "red", green: "green", blue: "blue"})
    result = evaluate_backend(
        ModelConfig(name="scripted"),
        ["toy_hub"],
        None,
        tmp_path / "o",
        model=backend,
        data={"toy_hub": str(local)},
        options={"include_defaults": False, "include": [hub_task]},
    )
    assert result["scores"]["toy_hub"]["acc"] == 1.0 and result["n"]["toy_hub"]["effective"] == 6
    assert result["datasets"]["toy_hub"]["path"] == "parquet"


def test_data_option_refuses_unknown_task_or_path(lmms, hub_task, tmp_path, scripted):
    from unigap.errors import UnigapError
    from unigap.understand.run import evaluate_backend

    opts = {"include_defaults": False, "include": [hub_task]}
    with pytest.raises(UnigapError, match="no such file"):
        evaluate_backend(
            ModelConfig(),
            ["toy_hub"],
            None,
            tmp_path,
            model=scripted(),
            data={"toy_hub": str(tmp_path / "missing.parquet")},
            options=opts,
        )
    with pytest.raises(UnigapError, match="'nope' is not an lmms-eval task"):
        evaluate_backend(ModelConfig(), ["toy_hub"], None, tmp_path, model=scripted(), data={"nope": "x"}, options=opts)
