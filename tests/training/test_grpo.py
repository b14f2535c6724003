import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.training.test_improve import make_data, weights
from unigap.curation.dataset import PROMPTS, write_prompts
from unigap.errors import ConfigError, UnigapError
from unigap.judges.base import JudgeConfig
from unigap.models.base import ModelConfig, load_model
from unigap.prompts.shapeworld import load_shapeworld
from unigap.training.config import GrpoOptions, ImproveConfig, RewardConfig
from unigap.training.improve import improve
from unigap.training.losses import group_advantages, grpo_token_loss


def grpo_data(path, ckpt, n_prompts=4, prompts=None):
    prompts = prompts or load_shapeworld(split="train", subtasks=["single_object", "color_attr"])[:n_prompts]
    data = make_data(path, ckpt, prompts=prompts)
    write_prompts(data / PROMPTS, prompts)
    return data


def grpo_cfg(ckpt, **kw):
    grpo = {
        "group_size": 4,
        "rewards": [RewardConfig(name="self"), RewardConfig(name="oracle", weight=0.5)],
        "save_every": 1,
        **kw.pop("grpo", {}),
    }
    return ImproveConfig(
        **{
            "method": "grpo",
            "model": ModelConfig(name="tiny", path=str(ckpt)),
            "epochs": 1,
            "train_batch_size": 8,
            "lr": 1e-3,
            "grpo": GrpoOptions(**grpo),
            "monitor": JudgeConfig(name="oracle"),
            **kw,
        }
    )


def test_group_advantages_normalise_within_each_prompt():
    r = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.5, 0.5])
    adv, std = group_advantages(r, 4, scale=True)
    assert torch.allclose(adv[:4], (r[:4] - 0.5) / (r[:4].std() + 1e-4))
    assert torch.equal(adv[4:], torch.zeros(4)) and std[1] == 0  # a group that agrees teaches nothing
    adv, _ = group_advantages(r, 4, scale=False)
    assert torch.allclose(adv[:4], r[:4] - 0.5)


def test_grpo_loss_is_the_policy_gradient_at_ratio_one_and_clips_beyond():
    logp = torch.tensor([[-1.0, -2.0], [-0.5, -0.1]], requires_grad=True)
    adv = torch.tensor([2.0, -1.0])
    loss, kl = grpo_token_loss(logp, logp.detach(), None, adv, 0.2, 0.0)
    loss.mean().backward()
    assert kl is None and torch.allclose(logp.grad, -adv[:, None].expand(2, 2) / 4)  # d/dlogp of -A * ratio
    logp.grad = None
    old = logp.detach() - 1.0  # ratio e > 1 + eps: clipped for A > 0 (no gradient), not for A < 0
    loss, _ = grpo_token_loss(logp, old, None, adv, 0.2, 0.0)
    loss.sum().backward()
    assert torch.equal(logp.grad[0], torch.zeros(2)) and (logp.grad[1] > 0).all()
    ref = logp.detach() + torch.tensor([[0.0, 0.3], [-0.2, 0.0]])
    _, kl = grpo_token_loss(logp, logp.detach(), ref, adv, 0.2, 0.1)
    d = ref - logp.detach()
    assert torch.allclose(kl, torch.exp(d) - d - 1) and kl[0, 0] == 0 and (kl[0, 1] > 0)  # k3 >= 0, 0 at ref


@pytest.mark.parametrize("trainable", [["llm"], ["gen_head"]])
def test_grpo_steps_on_tiny_train_trainable_only_and_log_each_step(tmp_path, tiny_ckpt_dir, trainable):
    data = grpo_data(tmp_path / "data", tiny_ckpt_dir)
    before = weights(load_model(ModelConfig(name="tiny", path=str(tiny_ckpt_dir))))
    history = improve(grpo_cfg(tiny_ckpt_dir, trainable=trainable), data, tmp_path / "out", log=lambda m: None)
    steps = history["steps"]
    assert len(steps) == 2 and all(np.isfinite(s["loss"]) and 0 <= s["reward/self"] <= 1 for s in steps)
    assert all(s["samples"] == 8 and s["monitor/oracle"] == s["reward/oracle"] for s in steps)
    model = load_model(ModelConfig(name="tiny", path=str(tmp_path / "out" / "model")))
    after, groups = weights(model), model.components()
    names = {n for n, p in model.module().named_parameters() if any(p is q for t in trainable for q in groups[t])}
    for k in before:
        assert (not torch.equal(before[k], after[k])) == (k in names), k
    rows = list(csv.DictReader((tmp_path / "out" / "steps.csv").open()))
    assert [int(r["step"]) for r in rows] == [1, 2] and float(rows[0]["reward"]) == pytest.approx(steps[0]["reward"])
    assert set(history["exploitation"]) >= {"base", "own", "drop"}


def test_grpo_kill_and_resume_gives_the_same_weights(tmp_path, tiny_ckpt_dir):
    data = grpo_data(tmp_path / "data", tiny_ckpt_dir, n_prompts=6)
    c = grpo_cfg(tiny_ckpt_dir, epochs=2, grpo={"beta": 0.05, "inner_steps": 2})
    straight = improve(c, data, tmp_path / "straight", log=lambda m: None)

    class Die:
        n = 0

        def start(self, stage, total, done=0):
            pass

        def advance(self, n):
            self.n += n
            if self.n == 4:  # the 4th step is done (in memory), only 3 are committed
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        improve(c, data, tmp_path / "killed", log=lambda m: None, progress=Die())
    resumed = improve(c, data, tmp_path / "killed", log=lambda m: None)
    a = weights(load_model(ModelConfig(name="tiny", path=str(tmp_path / "straight" / "model"))))
    b = weights(load_model(ModelConfig(name="tiny", path=str(tmp_path / "killed" / "model"))))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [s["reward"] for s in resumed["steps"]] == [s["reward"] for s in straight["steps"]]
    assert len(straight["steps"]) == 6 and len(straight["epochs"]) == 2


def test_grpo_killed_with_sigkill_resumes_to_the_same_result(tmp_path, tiny_ckpt_dir):
    import os
    import subprocess
    import sys

    data = grpo_data(tmp_path / "data", tiny_ckpt_dir, n_prompts=6)
    c = grpo_cfg(tiny_ckpt_dir, epochs=2, grpo={"save_every": 2}, monitor=None)
    straight = improve(c, data, tmp_path / "straight", log=lambda m: None)
    root = Path(__file__).resolve().parents[2]
    # One torch thread as in this process (tests/conftest.py): CPU reductions are bit-identical only at
    # the same thread count, and the comparison below is bit-exact.
    env = {**os.environ, "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root}", "OMP_NUM_THREADS": "1"}
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.training.grpo_kill_worker",
            c.model_dump_json(),
            str(data),
            str(tmp_path / "killed"),
            "5",
        ],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert p.returncode == -9, p.stderr[-2000:]  # killed after step 5; steps 1-4 committed
    resumed = improve(c, data, tmp_path / "killed", log=lambda m: None)
    a = weights(load_model(ModelConfig(name="tiny", path=str(tmp_path / "straight" / "model"))))
    b = weights(load_model(ModelConfig(name="tiny", path=str(tmp_path / "killed" / "model"))))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [s["reward"] for s in resumed["steps"]] == [s["reward"] for s in straight["steps"]]


def test_group_of_one_and_partial_groups_are_refused():
    with pytest.raises(ValueError, match="group_size is 1"):
        ImproveConfig(method="grpo", grpo=GrpoOptions(group_size=1))
    with pytest.raises(ValueError, match="multiple of grpo.group_size"):
        ImproveConfig(method="grpo", train_batch_size=10, grpo=GrpoOptions(group_size=4))


def test_micro_batch_beyond_memory_is_refused_before_writing(tmp_path, tiny_ckpt_dir, monkeypatch):
    import unigap.training.objectives.grpo as grpo

    data = grpo_data(tmp_path / "data", tiny_ckpt_dir)
    monkeypatch.setattr(grpo, "available_bytes", lambda device: 2**20)
    with pytest.raises(UnigapError, match=r"B x G = 2 x 4 = 8 samples needs about .* GiB"):
        improve(grpo_cfg(tiny_ckpt_dir), data, tmp_path / "out", log=lambda m: None)
    assert not (tmp_path / "out").exists()


def test_a_reward_judge_that_cannot_score_the_prompts_is_refused_naming_one(tmp_path, tiny_ckpt_dir):
    from dataclasses import replace

    prompts = load_shapeworld(split="train", subtasks=["color_attr"])[:3]
    prompts[1] = replace(prompts[1], spec=None)
    data = grpo_data(tmp_path / "data", tiny_ckpt_dir, prompts=prompts)
    with pytest.raises(
        UnigapError, match=f"rewards\\[1\\] \\(oracle\\) cannot score the run's prompts: .*{prompts[1].id}"
    ):
        improve(grpo_cfg(tiny_ckpt_dir), data, tmp_path / "out", log=lambda m: None)
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match=r"grpo.rewards\[0\].name: unknown reward 'nope'"):
        improve(grpo_cfg(tiny_ckpt_dir, grpo={"rewards": [RewardConfig(name="nope")]}), data, tmp_path / "o2")


def test_a_non_finite_reward_stops_naming_the_prompt_and_keeps_the_checkpoint(tmp_path, tiny_ckpt_dir, monkeypatch):
    from unigap.training import rewards

    data = grpo_data(tmp_path / "data", tiny_ckpt_dir)
    calls = {"n": 0}
    real = rewards.self_reward

    def flaky(models, options):
        fn = real(models, options)

        def wrapped(s):
            calls["n"] += 1
            out = fn(s)
            return [float("nan")] + out[1:] if calls["n"] == 2 else out

        return wrapped

    monkeypatch.setitem(rewards.REWARDS._entries["self"].__dict__, "factory", flaky)
    with pytest.raises(UnigapError, match=r"non-finite reward for prompt shapeworld/\S+ \(epoch 1, step 2"):
        improve(grpo_cfg(tiny_ckpt_dir), data, tmp_path / "out", log=lambda m: None)
    from unigap.training.checkpoint import State

    assert State.load(tmp_path / "out").step == 1 and (tmp_path / "out" / "model").is_dir()
