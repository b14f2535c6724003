import json

import pytest

from unigap.curation.curate import CurateConfig
from unigap.models.base import ModelConfig, SelfJudgeConfig
from unigap.pipeline.analyse import analyse
from unigap.pipeline.run import RunConfig, run_loop
from unigap.prompts.base import SuiteConfig
from unigap.training.guard import GuardConfig
from unigap.training.improve import ImproveConfig


def small_run_config(ckpt, **kw) -> RunConfig:
    base = dict(model=ModelConfig(name="tiny", path=str(ckpt)), n=3, eval_n=2, n_boot=50,
                train_prompts=SuiteConfig(split="train", per_subtask=3), eval_prompts=SuiteConfig(split="eval", per_subtask=2),
                self_judge=SelfJudgeConfig(mode="prob"),  # a random model's text answers do not parse
                curate=CurateConfig(rule="all_accepted"),
                improve=ImproveConfig(epochs=2, batch_size=8, lr=1e-3, guard=GuardConfig(judge="oracle", threshold=0.0)))
    return RunConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_ckpt_dir):
    out = tmp_path_factory.mktemp("run")
    run_loop(small_run_config(tiny_ckpt_dir), out, log=lambda m: None)
    return out


def test_run_writes_every_stage_and_a_report(run_dir):
    results = json.loads((run_dir / "results.json").read_text())
    assert set(results["before"]["metrics"]) >= {"non_unification", "generation_score/oracle", "self_accuracy/oracle"}
    assert {"audit_train", "curate", "improve", "audit_eval_base", "audit_eval_improved", "winrate"} <= set(
        results["stage_seconds"])
    assert (run_dir / "report.html").exists() and (run_dir / "analysis.json").exists()
    analysis = json.loads((run_dir / "analysis.json").read_text())
    assert "oracle" in analysis["win_rate"] and "matched_vs_mismatched" in analysis["entk"]
    assert analysis["guard"]["n"] > 0


def test_rerun_is_resumed_not_redone(run_dir, tiny_ckpt_dir):
    before = (run_dir / "improve" / "state.pt").stat().st_mtime
    results = run_loop(small_run_config(tiny_ckpt_dir), run_dir, log=lambda m: None)
    assert (run_dir / "improve" / "state.pt").stat().st_mtime == before
    assert results["after"]["counts"]["candidates"]["improved"] == 9 * 2 * 2


def test_analyse_says_what_is_missing(tmp_path, tiny_ckpt_dir):
    from unigap.audit.runner import AuditConfig, run_audit

    run_audit(AuditConfig(model=ModelConfig(name="tiny", path=str(tiny_ckpt_dir)), prompts=SuiteConfig(per_subtask=1),
                          n=2, n_boot=20), tmp_path)
    result = analyse(tmp_path, n_boot=20, entk_samples=4)
    assert "missing" in result["after"] and "unigap run" in result["after"]["command"]
    assert "missing" in result["win_rate"] and "missing" in result["curriculum"]
