"""`unigap run improve.method=grpo` end to end at test size: audit, curate, GRPO, eval audits, win rate,
analyse, and a report whose training section plots the reward beside the oracle's verdict."""

import csv
import json

from typer.testing import CliRunner

from unigap.cli import get_app


def test_unigap_run_with_grpo_end_to_end(tmp_path, tiny_ckpt_dir):
    run_dir = tmp_path / "run"
    args = [
        "run",
        "--out",
        str(run_dir),
        f"model.path={tiny_ckpt_dir}",
        "n=3",
        "eval_n=2",
        "n_boot=50",
        "train_prompts.per_subtask=2",
        "eval_prompts.per_subtask=2",
        "self_judge.mode=prob",
        "improve.method=grpo",
        "improve.epochs=1",
        "improve.train_batch_size=8",
        "improve.grpo.group_size=4",
        "improve.curriculum.mode=none",
        "improve.guard.threshold=0",
    ]
    result = CliRunner().invoke(get_app(), args)
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    history = json.loads((run_dir / "improve" / "train.json").read_text())
    assert len(history["steps"]) == 9 and history["guard"] is None and history["replays"] == []
    rows = list(csv.DictReader((run_dir / "improve" / "steps.csv").open()))
    assert len(rows) == 9 and {"reward", "reward/self", "monitor/oracle", "kl", "loss"} <= set(rows[0])
    assert "exploitation" in history and history["exploitation"]["judge"] == "oracle"
    results = json.loads((run_dir / "results.json").read_text())
    assert results["after"]["counts"]["candidates"]["improved"] == 9 * 2 * 2
    html = (run_dir / "report.html").read_text()
    assert 'id="training"' in html and "grpo reward per step" in html and "9 GRPO steps" in html
    config = json.loads(
        json.dumps(__import__("unigap.store", fromlist=["RunStore"]).RunStore.open(run_dir, create=False).config())
    )
    assert config["improve"]["method"] == "grpo"


def test_grpo_with_a_judge_that_cannot_score_the_prompts_is_refused_before_the_run_starts(tmp_path, tiny_ckpt_dir):
    """geneval needs GenEval metadata (include/exclude) per prompt: ShapeWorld prompts have none."""
    run_dir = tmp_path / "run"
    args = [
        "run",
        "--out",
        str(run_dir),
        f"model.path={tiny_ckpt_dir}",
        "improve.method=grpo",
        "improve.grpo.rewards=[{name: oracle}, {name: geneval}]",
    ]
    result = CliRunner().invoke(get_app(), args)
    msg = str(result.exception)
    assert result.exit_code != 0 and "improve.grpo.rewards[1] (geneval) cannot score the run's prompts: prompt " in msg
    assert not run_dir.exists()
