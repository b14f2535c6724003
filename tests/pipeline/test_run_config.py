"""One run config reaches every stage; overrides change only what they name; run dirs are movable."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests._runs import small_run_config
from unigap.config import load_config
from unigap.errors import ConfigError
from unigap.pipeline.run import RunConfig, run_loop
from unigap.training.curriculum import CurriculumConfig
from unigap.training.improve import ImproveConfig

ROOT = Path(__file__).resolve().parents[2]

OVERRIDES = [
    ["train_prompts.per_subtask=6", "improve.epochs=5"],
    ["improve.curriculum.epoch=2", "improve.guard.sample=20"],
    ["self_judge.mode=prob", "sampling.cfg_scale=2.0", "model.batch_size=16"],
    ["eval_prompts.per_subtask=3", "curate.pairs_per_prompt=2", "improve.lr=1e-3"],
]


@pytest.mark.parametrize("overrides", OVERRIDES, ids=lambda o: o[0])
def test_nested_overrides_without_a_file_equal_the_default_file(overrides):
    without = load_config(RunConfig, None, overrides)
    with_file = load_config(RunConfig, ROOT / "configs" / "run_tiny.yaml", overrides)
    assert without == with_file
    assert without.train_prompts.split == "train" and without.improve.guard.judge == "oracle"


def test_an_override_changes_only_its_key():
    base, changed = load_config(RunConfig), load_config(RunConfig, None, ["improve.curriculum.n=3"])
    assert changed.improve.curriculum.n == 3
    assert changed.improve.curriculum.model_copy(update={"n": base.improve.curriculum.n}) == base.improve.curriculum
    assert changed.model_copy(update={"improve": base.improve}) == base


def test_a_curriculum_after_the_last_epoch_names_the_override():
    with pytest.raises(
        ConfigError, match=r"override 'improve.epochs=2'.*curriculum.epoch \(4\) must be <= epochs \(2\)"
    ):
        load_config(RunConfig, None, ["improve.epochs=2"])


def test_improve_may_not_set_what_the_run_sets():
    with pytest.raises(ConfigError, match="improve.seed is set"):
        load_config(RunConfig, None, ["improve.seed=3"])


def test_the_curriculum_replay_judges_exactly_as_the_audit(tiny_ckpt_dir, tmp_path, monkeypatch):
    """`unigap run self_judge.mode=prob`: the replay inside improve uses prob mode, the run's seed and sampling."""
    import unigap.training.loop as loop_mod
    from unigap.models.base import SamplingConfig

    seen = []
    real = loop_mod.replay

    def spy(model, pool, cur, epoch, settings):
        seen.append(settings)
        return real(model, pool, cur, epoch, settings)

    monkeypatch.setattr(loop_mod, "replay", spy)
    cfg = small_run_config(
        tiny_ckpt_dir,
        seed=7,
        report=False,
        improve=ImproveConfig(epochs=2, train_batch_size=8, curriculum=CurriculumConfig(mode="fixed", epoch=1, n=2)),
    )
    cfg = cfg.model_copy(update={"sampling": cfg.sampling or SamplingConfig(cfg_scale=1.5, temperature=0.7)})
    run_loop(cfg, tmp_path / "run", log=lambda m: None)
    assert seen, "the curriculum replay did not run"
    assert seen[0].judge.mode == "prob" and seen[0].judge == cfg.self_judge
    assert seen[0].seed == 7 and seen[0].sampling == cfg.sampling


def test_a_moved_run_dir_still_improves_analyses_reports_and_exports(finished_run, tiny_ckpt_dir, tmp_path):
    """Nothing stored holds an absolute path: copy the run after audit + curate, delete the original's
    later stages, and finish it elsewhere; then label export and the exporters read it."""
    from typer.testing import CliRunner

    from unigap.cli import get_app

    moved = tmp_path / "elsewhere" / "run"
    shutil.copytree(finished_run, moved)
    shutil.rmtree(moved / "improve")
    runner = CliRunner()
    sft = ROOT / "configs" / "sft_tiny.yaml"
    for args in (
        [
            "improve",
            "--config",
            sft,
            "--data",
            moved / "data",
            "--out",
            moved / "improve2",
            f"model.path={tiny_ckpt_dir}",
            "epochs=1",
            "curriculum.mode=none",
            "guard.threshold=0",
        ],
        ["analyse", moved],
        ["report", moved],
        ["label", "export", moved, "--csv", tmp_path / "labels.csv"],
        ["export", "hf", moved, "--out", tmp_path / "hf"],
    ):
        result = runner.invoke(get_app(), [str(a) for a in args])
        assert result.exit_code == 0, f"{args[0]}: {result.output}\n{result.exception!r}"
    assert (moved / "data" / "guard.json").is_file() and (moved / "report.html").is_file()
    assert str(finished_run) not in (moved / "data" / "manifest.json").read_text()
