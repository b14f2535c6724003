"""The synthetic Show-o checkpoint through the CLI loop: synthetic -> audit -> curate -> improve
-> analyse -> report, with the real loading code."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from unigap.cli import get_app

ROOT = Path(__file__).resolve().parents[3]
runner = CliRunner()


def invoke(*args):
    result = runner.invoke(get_app(), [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_synthetic_checkpoint_through_the_cli_loop(tmp_path):
    ckpt, run = tmp_path / "showo", tmp_path / "run"
    invoke("model", "synthetic", "showo", "--out", ckpt)
    assert (ckpt / "config.json").exists() and (ckpt / "vq" / "pytorch_model.safetensors").exists()
    invoke(
        "audit",
        "--config",
        ROOT / "configs" / "audit_showo.yaml",
        "--out",
        run,
        f"model.path={ckpt}",
        "model.device=cpu",
        "model.dtype=fp32",
        "model.options={steps: 2}",
        "prompts.suite=shapeworld",
        "prompts.options={}",
        "prompts.per_subtask=1",
        "n=2",
        "self_judge.mode=prob",
        "self_judge.threshold=0.0",
        "judges=[{name: oracle}]",
        "n_boot=10",
    )
    assert "overall" in invoke("show", run)
    invoke("curate", run, "--out", tmp_path / "data", "rule=all_accepted", "split=null")
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    assert manifest["totals"]["sft"] > 0 and manifest["fingerprint"]["backend"] == "showo"
    invoke(
        "improve",
        "--config",
        ROOT / "configs" / "sft_showo.yaml",
        "--data",
        tmp_path / "data",
        "--out",
        tmp_path / "sft",
        f"model.path={ckpt}",
        "model.device=cpu",
        "model.dtype=fp32",
        'mixed_precision="no"',
        "gradient_checkpointing=false",
        "epochs=1",
        "train_batch_size=4",
        "grad_accum=1",
        "allow_eval_prompts=true",
        "curriculum.mode=none",
    )
    assert (tmp_path / "sft" / "model" / "pytorch_model.safetensors").exists()
    invoke("analyse", run)
    invoke("report", run, "--out", tmp_path / "report.html")
    assert (tmp_path / "report.html").stat().st_size > 0
