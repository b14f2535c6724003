"""`improve` through accelerate: 2-process DDP (gloo, CPU) trains the same model as 1 process;
gradient accumulation equals a bigger batch; bf16 autocast runs."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from tests.distributed.helpers import launch, logs, make_tiny_data, wait_all
from unigap.models.base import ModelConfig, load_model
from unigap.training.improve import ImproveConfig, State, improve


def config(ckpt, **kw) -> ImproveConfig:
    return ImproveConfig(
        **{"model": ModelConfig(name="tiny", path=str(ckpt)), "epochs": 2, "train_batch_size": 4, "lr": 1e-3, **kw}
    )


def weights(path) -> dict[str, torch.Tensor]:
    m = load_model(ModelConfig(name="tiny", path=str(path)))
    return {k: v.detach().clone() for k, v in m.module().state_dict().items()}


def max_diff(a, b) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@pytest.mark.parametrize("method", ["sft", "dpo"])
def test_two_process_ddp_equals_one_process(tmp_path, tiny_ckpt_dir, method):
    # 9 rows, batch 4: micro-batches of 4, 4, 1 (rank 1 gets no row of the last one); SFT
    # accumulates 2 micro-batches per step; a curriculum replay after epoch 1 (pool of 2 prompts).
    data = make_tiny_data(tmp_path / "data", tiny_ckpt_dir, n=9)
    extra = {"grad_accum": 2, "curriculum": {"mode": "fixed", "epoch": 1, "n": 2}} if method == "sft" else {}
    cfg = config(tiny_ckpt_dir, method=method, **extra)
    straight = improve(cfg, data, tmp_path / "one", log=lambda m: None)
    t0 = time.time()
    args = ["tests/distributed/improve_worker.py", cfg.model_dump_json(), str(data), str(tmp_path / "two")]
    assert wait_all(launch(args, log_dir=tmp_path)) == [0, 0], logs(tmp_path)
    elapsed = time.time() - t0
    r0, r1 = (torch.load(tmp_path / "two" / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    assert State.load(tmp_path / "two").world_size == 2  # really DDP
    assert all(torch.equal(r0["weights"][k], r1["weights"][k]) for k in r0["weights"])  # replicas stay identical
    before, one, two = weights(tiny_ckpt_dir), weights(tmp_path / "one" / "model"), weights(tmp_path / "two" / "model")
    assert all(torch.equal(two[k], r0["weights"][k]) for k in two)  # what rank 0 saved is what it holds
    assert any(not torch.equal(before[k], two[k]) for k in before)  # it trained
    assert max_diff(one, two) < 1e-5, max_diff(one, two)  # the same training as 1 process, up to rounding
    losses = [e["loss"] for e in r0["history"]["epochs"]]
    assert all(np.isfinite(losses)) and np.allclose(losses, [e["loss"] for e in straight["epochs"]], atol=1e-5)
    assert r0["history"]["replays"] == straight["replays"] == r1["history"]["replays"]
    assert len(straight["replays"]) == (1 if method == "sft" else 0)
    print(f"2-process DDP {method}: {elapsed:.1f} s wall; max |w_2proc - w_1proc| = {max_diff(one, two):.2e}")


def test_gradient_accumulation_equals_a_bigger_batch(tmp_path, tiny_ckpt_dir):
    data = make_tiny_data(tmp_path / "data", tiny_ckpt_dir, n=8)
    improve(config(tiny_ckpt_dir, train_batch_size=8), data, tmp_path / "big", log=lambda m: None)
    improve(config(tiny_ckpt_dir, train_batch_size=2, grad_accum=4), data, tmp_path / "acc", log=lambda m: None)
    big, acc = weights(tmp_path / "big" / "model"), weights(tmp_path / "acc" / "model")
    assert max_diff(big, acc) < 1e-5


def test_bf16_mixed_precision_trains_on_cpu(tmp_path, tiny_ckpt_dir):
    data = make_tiny_data(tmp_path / "data", tiny_ckpt_dir, n=4)
    h = improve(config(tiny_ckpt_dir, mixed_precision="bf16", epochs=1), data, tmp_path / "bf16", log=lambda m: None)
    assert np.isfinite(h["epochs"][0]["loss"])
    after = weights(tmp_path / "bf16" / "model")
    assert all(v.dtype == torch.float32 for v in after.values())  # autocast: weights stay fp32
    before = weights(tiny_ckpt_dir)
    assert any(not torch.equal(before[k], after[k]) for k in before)
