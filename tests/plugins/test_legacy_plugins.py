"""Plugins written for the older conventions (a duck-typed backend with `load.Options`, a judge class called
with its options as keywords, a suite loader called with split=, subtasks= and its options) still load and
work, each with a FutureWarning naming the entry point."""

from __future__ import annotations

import pytest
import torch

from tests._plugins import install
from unigap.judges.base import JUDGES, JudgeConfig, load_judge
from unigap.models.base import (
    MODELS,
    ModelConfig,
    SamplingConfig,
    SelfJudgeConfig,
    load_model,
)
from unigap.prompts.base import SUITES, SuiteConfig, load_prompts

OLD = """
import torch

from unigap.config import Config
from unigap.models.base import Generation
from unigap.records import Judgment, Prompt
from unigap.verdict import judgment_from_answer


class Options(Config):
    grey: int = 128


class Grey:  # the older protocol: no base class
    name = "grey"
    num_image_tokens = 0

    def __init__(self, grey):
        self.grey = grey

    def generate(self, prompts, seeds, sampling):
        return Generation(torch.zeros(len(prompts), 0, dtype=torch.long),
                          torch.full((len(prompts), 4, 4, 3), self.grey, dtype=torch.uint8))

    def decode(self, tokens):
        raise ValueError("no tokens")

    def fingerprint(self):
        return {"backend": "grey"}

    def answer(self, images, questions, max_new_tokens=16):
        return ["The score is 1." for _ in questions]

    def judge(self, images, prompts, cfg):
        return [judgment_from_answer(a) for a in self.answer(images, prompts)]


def load_grey(cfg, options):
    return Grey(options.grey)


load_grey.Options = Options


class LevelOptions(Config):
    level: int = 100


class LevelJudge:
    Options = LevelOptions
    name = "level"

    def __init__(self, level=100):
        self.level = level

    def judge(self, images, prompts):
        return [Judgment(int(img.float().mean() > self.level)) for img in images]


def load_greys(split="eval", subtasks=None, count=2):
    return [Prompt(f"greys/{i}", f"a grey square {i}", "grey", split, "greys") for i in range(count)]


class GreysOptions(Config):
    count: int = 2


load_greys.Options = GreysOptions
"""


@pytest.fixture
def legacy_site(tmp_path, monkeypatch):
    return install(
        tmp_path / "site",
        "unigap_old_plugin",
        "unigap_old",
        OLD,
        "[unigap.models]\ngrey = unigap_old:load_grey\n[unigap.judges]\nlevel = unigap_old:LevelJudge\n"
        "[unigap.suites]\ngreys = unigap_old:load_greys\n",
        monkeypatch,
    )


def test_old_conventions_work_with_a_future_warning(legacy_site):
    for registry, name in ((MODELS, "grey"), (JUDGES, "level"), (SUITES, "greys")):
        warned = f"{name}.*unigap-old-plugin.*not declared with @unigap.registry.factory"
        with pytest.warns(FutureWarning, match=warned):
            assert name in registry.names()
        assert registry.entry(name).legacy
    model = load_model(ModelConfig(name="grey", options={"grey": 200}))
    gen = model.generate(["a", "b"], [1, 2], SamplingConfig())
    assert gen.images.float().mean() == 200 and model.judge(gen.images, ["a", "b"], SelfJudgeConfig())[0].verdict == 1
    judge = load_judge(JudgeConfig(name="level", options={"level": 150}))
    assert [j.verdict for j in judge.judge(gen.images, [])] == [1, 1] and judge.level == 150
    prompts = load_prompts(SuiteConfig(suite="greys", split="train", options={"count": 3}))
    assert [(p.id, p.split) for p in prompts] == [(f"greys/{i}", "train") for i in range(3)]
    with pytest.raises(Exception, match="prompts.options.colour: unknown option"):
        load_prompts(SuiteConfig(suite="greys", options={"colour": 1}))
    assert torch.equal(gen.tokens, torch.zeros(2, 0, dtype=torch.long))
