import torch

from unigap.models.base import Generation, SamplingConfig, SelfJudgeConfig
from unigap.records import Judgment
from unigap.training.curriculum import CurriculumConfig, ReplaySettings, replay, should_replay


class FakeModel:
    """Generates constant tokens; its understanding accepts only prompts containing 'good'."""

    num_image_tokens = 4

    def generate(self, prompts, seeds, sampling):
        n = len(prompts)
        return Generation(torch.arange(4).repeat(n, 1), torch.zeros(n, 2, 2, 3, dtype=torch.uint8))

    def judge(self, images, prompts, cfg):
        return [Judgment(int("good" in p)) for p in prompts]


def test_replay_moves_recovered_prompts_out_of_the_pool():
    pool = [{"prompt": t, "prompt_id": t, "subtask": "s", "band": "easy"} for t in ("good one", "bad one", "good two")]
    settings = ReplaySettings(0, SamplingConfig(), SelfJudgeConfig(), all_accepted=False)
    r = replay(FakeModel(), pool, CurriculumConfig(mode="fixed", epoch=1, n=3), 1, settings)
    assert r.recovered == ["good one", "good two"]
    assert len(r.sft) == 2 and r.sft[0]["tokens"] == [0, 1, 2, 3]
    assert r.summary() == {"epoch": 1, "pool_before": 3, "recovered": 2, "sft_added": 2, "pairs_added": 0}


def test_replay_triggers():
    fixed = CurriculumConfig(mode="fixed", epoch=4)
    assert not should_replay(fixed, 3, [], 0) and should_replay(fixed, 4, [], 0) and not should_replay(fixed, 4, [], 1)
    adaptive = CurriculumConfig(mode="adaptive", min_gain=0.01, patience=1)
    assert not should_replay(adaptive, 2, [0.5, 0.6], 0)  # still rising
    assert should_replay(adaptive, 3, [0.5, 0.6, 0.605], 0)  # stalled
    assert not should_replay(CurriculumConfig(), 10, [0.5, 0.5], 0)  # mode none
