"""GRPO through accelerate: 2-process DDP (gloo, CPU) trains the same model as 1 process. Each process
samples and scores its share of every group; the rewards are gathered to normalise the groups."""

from __future__ import annotations

import numpy as np
import torch

from tests.distributed.helpers import launch, logs, wait_all
from tests.distributed.test_ddp_training import max_diff, weights
from tests.training.test_grpo import grpo_cfg, grpo_data
from unigap.training.improve import improve


def test_two_process_grpo_equals_one_process(tmp_path, tiny_ckpt_dir):
    data = grpo_data(tmp_path / "data", tiny_ckpt_dir, n_prompts=5)  # 5 prompts, 2 per micro-batch: the last has 1
    cfg = grpo_cfg(tiny_ckpt_dir, grpo={"beta": 0.05, "inner_steps": 2}, monitor=None)
    straight = improve(cfg, data, tmp_path / "one", log=lambda m: None)
    args = ["tests/distributed/improve_worker.py", cfg.model_dump_json(), str(data), str(tmp_path / "two")]
    assert wait_all(launch(args, log_dir=tmp_path), timeout=600) == [0, 0], logs(tmp_path)
    r0, r1 = (torch.load(tmp_path / "two" / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    assert all(torch.equal(r0["weights"][k], r1["weights"][k]) for k in r0["weights"])  # replicas stay identical
    one, two = weights(tmp_path / "one" / "model"), weights(tmp_path / "two" / "model")
    assert any(not torch.equal(weights(tiny_ckpt_dir)[k], two[k]) for k in two)
    assert max_diff(one, two) < 1e-5, max_diff(one, two)
    rewards = [s["reward"] for s in r0["history"]["steps"]]
    assert len(rewards) == 3 and np.allclose(rewards, [s["reward"] for s in straight["steps"]], atol=1e-6)
