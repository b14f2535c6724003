import json
import shutil

from tests._runs import small_run_config
from unigap.models.base import ModelConfig
from unigap.pipeline.analyse import analyse
from unigap.pipeline.run import run_loop
from unigap.prompts.base import SuiteConfig


def test_run_writes_every_stage_and_a_report(finished_run):
    run_dir = finished_run
    results = json.loads((run_dir / "results.json").read_text())
    assert set(results["before"]["metrics"]) >= {"non_unification", "generation_score/oracle", "self_accuracy/oracle"}
    assert {"audit_train", "curate", "improve", "audit_eval_base", "audit_eval_improved", "winrate"} <= set(
        results["stage_seconds"]
    )
    assert (run_dir / "report.html").exists() and (run_dir / "analysis.json").exists()
    analysis = json.loads((run_dir / "analysis.json").read_text())
    assert "oracle" in analysis["win_rate"] and "matched_vs_mismatched" in analysis["entk"]
    assert analysis["guard"]["n"] > 0
    pairs = analysis["agreement"]["pairs"]  # kappa of every judge pair is computed by analyse
    assert {(p["a"], p["b"]) for p in pairs} >= {("oracle", "self")} and all(p["n"] > 0 for p in pairs)


def test_rerun_is_resumed_not_redone(finished_run, tiny_ckpt_dir, tmp_path):
    run_dir = tmp_path / "moved"  # a copy at another path: the stored stages still count
    shutil.copytree(finished_run, run_dir)
    latest = run_dir / "improve" / "LATEST"
    before = latest.stat().st_mtime
    results = run_loop(small_run_config(tiny_ckpt_dir), run_dir, log=lambda m: None)
    assert latest.stat().st_mtime == before  # no epoch was committed again
    assert results["after"]["counts"]["candidates"]["improved"] == 9 * 2 * 2


def test_analyse_says_what_is_missing(tmp_path, tiny_ckpt_dir):
    from unigap.audit.runner import AuditConfig, run_audit

    run_audit(
        AuditConfig(
            model=ModelConfig(name="tiny", path=str(tiny_ckpt_dir)), prompts=SuiteConfig(per_subtask=1), n=2, n_boot=20
        ),
        tmp_path,
    )
    result = analyse(tmp_path, n_boot=20, entk_samples=4)
    assert "missing" in result["after"] and "unigap run" in result["after"]["command"]
    assert "missing" in result["win_rate"] and "missing" in result["curriculum"]
