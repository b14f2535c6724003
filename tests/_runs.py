"""Test-size run configs shared by the fixtures and the tests that run the loop again."""

from __future__ import annotations


def small_run_config(ckpt, **kw):
    """`unigap run` at test size on a random tiny checkpoint (prob-mode self-judge: a random model's
    text answers do not parse; guard threshold 0 so that training always runs)."""
    from unigap.curation.curate import CurateConfig
    from unigap.curation.guard import GuardConfig
    from unigap.models.base import ModelConfig, SelfJudgeConfig
    from unigap.pipeline.run import RunConfig
    from unigap.prompts.base import SuiteConfig
    from unigap.training.improve import ImproveConfig

    base = dict(
        model=ModelConfig(name="tiny", path=str(ckpt)),
        n=3,
        eval_n=2,
        n_boot=50,
        train_prompts=SuiteConfig(split="train", per_subtask=3),
        eval_prompts=SuiteConfig(split="eval", per_subtask=2),
        self_judge=SelfJudgeConfig(mode="prob"),
        curate=CurateConfig(rule="all_accepted"),
        improve=ImproveConfig(epochs=2, train_batch_size=8, lr=1e-3, guard=GuardConfig(judge="oracle", threshold=0.0)),
    )
    return RunConfig(**{**base, **kw})
