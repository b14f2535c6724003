"""`improve` under FSDP (configs/accelerate/fsdp.yaml: FSDP1, FULL_SHARD, one unit per
LlamaDecoderLayer, FULL_STATE_DICT) on 2 CPU processes (gloo) with a tiny random Janus: SFT and DPO
train the same model as 1 process, the gathered checkpoint loads, each process keeps only its
optimizer shard, and a run whose processes are killed resumes to the same weights.

accelerate refuses FSDP without a GPU; tests/distributed/fsdp_worker.py says how the workers turn
it on anyway (and the one CPU substitution), docs/distributed.md has the measured reasons.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from tests.distributed.helpers import REPO, launch, logs, make_data, wait_all  # noqa: E402
from unigap.errors import UnigapError  # noqa: E402
from unigap.models.base import ModelConfig, SelfJudgeConfig, load_model  # noqa: E402
from unigap.training.improve import ImproveConfig, State, checkpoints, improve  # noqa: E402

TOL = 1e-5  # max |w_FSDP - w_1proc|: fp32, the same batches; only the reduction order differs
DIED = 3  # fsdp_worker's exit code for a planned kill


@pytest.fixture(scope="module")
def janus(tmp_path_factory):
    """A tiny random Janus saved like a hub checkpoint, and 9 curated rows / pairs of random tokens."""
    from unigap.models.janus.synthetic import build_synthetic

    root = tmp_path_factory.mktemp("fsdp")
    path = build_synthetic("tiny", seed=0, init_std=0.3).save(root / "janus")
    model_cfg = ModelConfig(name="janus", path=str(path), batch_size=8)
    model = load_model(model_cfg)
    data = make_data(root / "data", model, model.module().config.vq_config.num_embeddings, n=9)
    return {"path": path, "model": model_cfg, "data": data}


def fsdp_env() -> dict[str, str]:
    """The FSDP_* variables `accelerate launch --config_file configs/accelerate/fsdp.yaml` sets
    (made by accelerate's own launcher code), and the plain CPU device (accelerate's MULTI_CPU
    device is cpu:0, which torch's FSDP finds inconsistent with the parameters' `cpu`)."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_multi_gpu_env

    args = launch_command_parser().parse_args(
        ["--config_file", str(REPO / "configs/accelerate/fsdp.yaml"), "--num_processes", "2", "unused.py"]
    )
    env = prepare_multi_gpu_env(_validate_launch_command(args)[0])
    assert env["ACCELERATE_USE_FSDP"] == "true" and env["FSDP_TRANSFORMER_CLS_TO_WRAP"] == "LlamaDecoderLayer"
    return {**{k: v for k, v in env.items() if k.startswith("FSDP_")}, "ACCELERATE_TORCH_DEVICE": "cpu"}


def config(janus, method: str) -> ImproveConfig:
    # 9 rows, batch 4: micro-batches of 4, 4, 1 (rank 1 gets no row of the last one). SFT
    # accumulates 2 micro-batches per step and replays the discard pool after epoch 1.
    extra = {"grad_accum": 2, "curriculum": {"mode": "fixed", "epoch": 1, "n": 2}} if method == "sft" else {}
    return ImproveConfig(
        model=janus["model"],
        method=method,
        epochs=2,
        train_batch_size=4,
        lr=5e-3,
        self_judge=SelfJudgeConfig(mode="prob"),
        **extra,
    )


def weights(path) -> dict[str, torch.Tensor]:
    from transformers import JanusForConditionalGeneration

    return JanusForConditionalGeneration.from_pretrained(path).state_dict()


def max_diff(a, b) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def run_fsdp(jobs: list[dict], log_dir, expect: int) -> None:
    procs = launch(["tests/distributed/fsdp_worker.py", json.dumps(jobs)], log_dir=log_dir, env=fsdp_env())
    assert wait_all(procs, timeout=420) == [expect, expect], logs(log_dir)


def job(cfg: ImproveConfig, data, out, die_after: int | None = None) -> dict:
    return {"config": cfg.model_dump_json(), "data": str(data), "out": str(out), "die_after": die_after}


def check_trained(before, after, out) -> None:
    trained = {k for k in before if ".language_model." in k}  # trainable: [llm]; the rest is frozen
    assert all(torch.isfinite(v).all() for v in after.values())
    assert any(not torch.equal(before[k], after[k]) for k in trained)
    assert all(torch.equal(before[k], after[k]) for k in before if k not in trained)
    assert load_model(ModelConfig(name="janus", path=str(out / "model"))).num_image_tokens > 0  # unigap loads it


def check_optimizer_shards(out, before) -> list[int]:
    """One optimizer file per process for the last epoch; together they hold each trainable value once."""
    assert State.load(out).world_size == 2
    latest = checkpoints(out).latest()  # epochs/000002: the committed epoch holds its shards
    assert latest.name.endswith("2") and [p.name for p in (out / "epochs").iterdir() if p.is_dir()] == [latest.name]
    shards = [torch.load(latest / f"optimizer.rank{r}.pt", weights_only=False)["state"] for r in (0, 1)]
    held = [sum(s["exp_avg"].numel() for s in shard.values()) for shard in shards]
    trainable = sum(v.numel() for k, v in before.items() if ".language_model." in k)
    assert all(0 < h < trainable for h in held) and sum(held) == trainable, (held, trainable)
    return held


@pytest.mark.slow
def test_two_process_fsdp_equals_one_process_and_resumes_after_a_kill(janus, tmp_path):
    sft, dpo = config(janus, "sft"), config(janus, "dpo")
    one = {
        m: improve(c, janus["data"], tmp_path / f"one_{m}", log=lambda _: None) for m, c in (("sft", sft), ("dpo", dpo))
    }
    # Killed after the first micro-batch of epoch 2 (epoch 1 had 3): only epoch 1 is on disk.
    run_fsdp(
        [
            job(sft, janus["data"], tmp_path / "fsdp_sft"),
            job(dpo, janus["data"], tmp_path / "fsdp_dpo"),
            job(sft, janus["data"], tmp_path / "killed", die_after=4),
        ],
        tmp_path,
        expect=DIED,
    )
    assert State.load(tmp_path / "killed").epoch == 1
    run_fsdp([job(sft, janus["data"], tmp_path / "killed")], tmp_path, expect=0)

    before, figures = weights(janus["path"]), []
    for method in ("sft", "dpo"):
        out = tmp_path / f"fsdp_{method}"
        ref, got = weights(tmp_path / f"one_{method}" / "model"), weights(out / "model")
        check_trained(before, got, out)
        assert max_diff(ref, got) < TOL, (method, max_diff(ref, got))
        history = json.loads((out / "train.json").read_text())
        losses = [e["loss"] for e in history["epochs"]]
        assert np.isfinite(losses).all() and np.allclose(losses, [e["loss"] for e in one[method]["epochs"]], atol=TOL)
        assert history["replays"] == one[method]["replays"]
        figures.append(
            f"{method}: max |w_fsdp - w_1proc| = {max_diff(ref, got):.1e}, "
            f"optimizer values per rank {check_optimizer_shards(out, before)}"
        )
    assert len(one["sft"]["replays"]) == 1  # the curriculum ran (on the unsharded copy under FSDP)
    resumed = max_diff(weights(tmp_path / "fsdp_sft" / "model"), weights(tmp_path / "killed" / "model"))
    assert resumed < TOL
    print("; ".join(figures), f"; killed + resumed vs straight (sft): {resumed:.1e}")


def test_fsdp_on_cpu_processes_is_refused_before_anything_is_written(janus, tmp_path, monkeypatch):
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")  # what `accelerate launch` with fsdp.yaml sets
    with pytest.raises(UnigapError, match="FSDP .* runs on GPUs"):
        improve(config(janus, "dpo"), janus["data"], tmp_path / "out", log=lambda _: None)
    assert not (tmp_path / "out").exists()


def test_fsdp2_is_refused_with_a_clear_error(janus):
    from types import SimpleNamespace

    from unigap.training.improve import check_setup

    fsdp2 = SimpleNamespace(
        distributed_type="DistributedType.FSDP", state=SimpleNamespace(fsdp_plugin=SimpleNamespace(fsdp_version=2))
    )
    with pytest.raises(UnigapError, match="fsdp_version: 1"):
        check_setup(config(janus, "sft"), fsdp2)
