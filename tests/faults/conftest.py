"""Fixtures of the fault-injection harness: an audited run with curated data, shared by the jobs."""

from __future__ import annotations

import pytest

from unigap.audit.runner import AuditConfig, run_audit
from unigap.curation.curate import CurateConfig
from unigap.curation.dataset import write_curation
from unigap.judges.base import JudgeConfig
from unigap.models.base import ModelConfig, SelfJudgeConfig
from unigap.prompts.base import SuiteConfig


@pytest.fixture(scope="session")
def audited_run(tmp_path_factory, tiny_ckpt_dir):
    """A finished audit (train split, 2 prompts per subtask, 3 candidates, prob-mode self-judge) with curated
    data in run/data: the random model's self-judge accepts about 2 in 5 candidates, so there is data to
    train on and a discard pool for the curriculum to replay."""
    run = tmp_path_factory.mktemp("faults") / "run"
    cfg = AuditConfig(
        model=ModelConfig(path=str(tiny_ckpt_dir)),
        prompts=SuiteConfig(split="train", per_subtask=2),
        n=3,
        n_boot=10,
        self_judge=SelfJudgeConfig(mode="prob"),
        judges=[JudgeConfig(name="oracle"), JudgeConfig(name="poisoned")],
    )
    run_audit(cfg, run)
    write_curation(run, run / "data", CurateConfig(rule="all_accepted", selector="self"))
    return run


@pytest.fixture(scope="session")
def shipped_audited_run(tmp_path_factory):
    """The shipped tiny model's audit (it draws some prompts right, some wrong) curated by the oracle into
    run/data: chosen/rejected pairs for DPO and a discard pool for the curriculum."""
    run = tmp_path_factory.mktemp("faults_shipped") / "run"
    cfg = AuditConfig(
        prompts=SuiteConfig(split="train", per_subtask=2), n=4, n_boot=10, judges=[JudgeConfig(name="oracle")]
    )
    run_audit(cfg, run)
    write_curation(run, run / "data", CurateConfig(rule="all_accepted", selector="oracle"))
    return run
