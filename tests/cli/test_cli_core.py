"""The core commands through typer's CliRunner, on a random-weight tiny checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from unigap.cli import get_app
from unigap.config import load_config, read_yaml
from unigap.pipeline.run import RunConfig

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def invoke(*args):
    result = runner.invoke(get_app(), [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_world_show_and_model_eval(tmp_path, tiny_ckpt_dir):
    invoke("world", "show", "--subtask", "spatial", "--n", "4", "--out", tmp_path / "g.png")
    assert (tmp_path / "g.png").stat().st_size > 0
    invoke(
        "world",
        "show",
        "--subtask",
        "physics",
        "--n",
        "2",
        "--model",
        "tiny",
        "--model-path",
        tiny_ckpt_dir,
        "--out",
        tmp_path / "m.png",
    )
    out = invoke("model", "eval", "--path", tiny_ckpt_dir, "--prompts-per-subtask", "2", "--json", tmp_path / "e.json")
    result = json.loads((tmp_path / "e.json").read_text())
    assert set(result["bands"]) == {"easy", "medium", "hard"} and len(result["subtasks"]) == 9
    assert "overall" in out


def test_audit_show_curate_improve(tmp_path, tiny_ckpt_dir):
    run = tmp_path / "run"
    invoke(
        "audit",
        "--config",
        ROOT / "configs" / "audit_tiny.yaml",
        "--out",
        run,
        f"model.path={tiny_ckpt_dir}",
        "prompts.per_subtask=2",
        "n=3",
        "self_judge.mode=prob",
        "n_boot=20",
    )
    shown = invoke("show", run)
    assert "non-unif" in shown and "overall" in shown and "easy" in shown
    invoke("curate", run, "--out", tmp_path / "data", "rule=all_accepted", "split=null")
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    assert manifest["totals"]["sft"] > 0
    out = invoke(
        "improve",
        "--config",
        ROOT / "configs" / "sft_tiny.yaml",
        "--data",
        tmp_path / "data",
        "--out",
        tmp_path / "ckpt",
        f"model.path={tiny_ckpt_dir}",
        "epochs=1",
        "allow_eval_prompts=true",
        "guard.threshold=0.0",
        "curriculum.mode=none",
    )
    assert (tmp_path / "ckpt" / "model" / "card.json").exists() and "improved model" in out


def test_errors_are_clear(tmp_path):
    result = runner.invoke(get_app(), ["world", "show", "--subtask", "nope", "--out", str(tmp_path / "x.png")])
    assert result.exit_code != 0 and "valid" in str(result.exception)
    bad = tmp_path / "bad.yaml"
    bad.write_text("n: 3\nnn: 4\n")
    result = runner.invoke(get_app(), ["audit", "--config", str(bad), "--out", str(tmp_path / "r")])
    assert "nn" in str(result.exception) and "bad.yaml" in str(result.exception)


def test_shipped_default_configs_are_the_defaults():
    from unigap.audit.runner import AuditConfig

    assert load_config(AuditConfig, ROOT / "configs" / "audit_tiny.yaml").model_dump() == AuditConfig().model_dump()
    assert load_config(RunConfig, ROOT / "configs" / "run_tiny.yaml").model_dump() == RunConfig().model_dump()
    assert read_yaml(ROOT / "configs" / "run_tiny.yaml")["improve"]["method"] == "sft"


def test_poisoned_config_is_the_default_but_for_the_supervision():
    """The co-degradation run changes who supervises and how far, not the rest of the loop."""
    from unigap.config import diff_keys

    poisoned = load_config(RunConfig, ROOT / "configs" / "run_poisoned_tiny.yaml").model_dump()
    default = RunConfig().model_dump()
    # + no curriculum (its replay would add the self-judge's picks to the poisoned data)
    assert diff_keys(default, poisoned) == [
        "curate.selector",
        "force",
        "improve.curriculum.mode",
        "improve.method",
        "improve.und_weight",
        "judges",
    ]
    assert poisoned["curate"]["selector"] == "poisoned" and poisoned["force"] and poisoned["improve"]["und_weight"] > 0
