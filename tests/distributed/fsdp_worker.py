"""One rank of `improve` under FSDP on CPU processes (gloo), launched by tests/distributed/test_fsdp_training.py.

accelerate 1.15 does not run FSDP on CPU processes (measured, docs/distributed.md):
- `accelerate launch --cpu` drops the FSDP settings (commands/launch.py: `use_fsdp and not cpu` only);
- with ACCELERATE_USE_FSDP=true, `Accelerator()` builds FullyShardedDataParallelPlugin, whose
  sync_module_states=true raises "There are currently no available devices found, must be one of
  'XPU', 'CUDA', ..." without a GPU (utils/dataclasses.py);
- `AcceleratorState` makes FSDP of GPU-like distributed types only: CPU processes become MULTI_CPU (DDP).
So the test runs the workers without ACCELERATE_USE_FSDP (only the FSDP_* variables, converted from
configs/accelerate/fsdp.yaml by accelerate's own launcher code), and this worker takes the
Accelerator `improve` builds, gives it the plugin made from those variables and sets its
distributed type to FSDP. From there on accelerate's own FSDP code runs (prepare_model wraps in
FullyShardedDataParallel, one unit per LlamaDecoderLayer; clip_grad_norm_; backward), as on GPUs.

One substitution: accelerate's get_state_dict gathers FSDP1 weights with offload_to_cpu=True, and
torch 2.13's FlatParamHandle.to_cpu() is a no-op for a CPU flat parameter and then frees the storage
the gathered views still point at (a segfault in _full_post_state_dict_hook's clone). On CPU the
worker gathers the same FULL_STATE_DICT with offload_to_cpu=False (rank 0 only, as accelerate does).

usage: python tests/distributed/fsdp_worker.py JOBS_JSON
  JOBS_JSON: a list of {"config": ImproveConfig as JSON, "data": DIR, "out": DIR, "die_after": k | null}.
  die_after: the process exits hard (os._exit(3), nothing flushed or saved) after its k-th micro-batch.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import unigap.training.improve as imp

DIED = 3


def full_state_dict_cpu(model: Any) -> dict:
    from torch.distributed.fsdp import FullStateDictConfig, FullyShardedDataParallel, StateDictType

    config = FullStateDictConfig(offload_to_cpu=False, rank0_only=True)
    with FullyShardedDataParallel.state_dict_type(model, StateDictType.FULL_STATE_DICT, config):
        return model.state_dict()


def fsdp_accelerator(cfg: imp.ImproveConfig) -> Any:
    from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin

    accelerator = make_accelerator(cfg)
    assert str(accelerator.distributed_type).endswith("MULTI_CPU"), accelerator.distributed_type
    # The FSDP_* variables, but sync_module_states off: the plugin refuses it without a GPU and torch's
    # FSDP refuses it for CPU parameters ("... which requires them to be on GPU"). Every rank loads
    # the same checkpoint from disk, so there is nothing to broadcast.
    accelerator.state.fsdp_plugin = FullyShardedDataParallelPlugin(sync_module_states=False)
    accelerator.state.distributed_type = DistributedType.FSDP
    accelerator.get_state_dict = full_state_dict_cpu
    return accelerator


make_accelerator, prepare = imp.make_accelerator, imp.prepare


def checked_prepare(model: Any, *args: Any) -> imp.Trainer:
    """prepare, then check that FSDP wrapped the root and each decoder layer (fsdp.yaml's policy)."""
    from torch.distributed.fsdp import FullyShardedDataParallel

    run = prepare(model, *args)
    units = FullyShardedDataParallel.fsdp_modules(run.prepared)
    layers = model.module().config.text_config.num_hidden_layers
    assert run.fsdp and len(units) == layers + 1, (run.fsdp, len(units), layers)
    print(f"FSDP units: {len(units)} (root + {layers} LlamaDecoderLayer)", flush=True)
    return run


def die_after(k: int | None):
    if k is None:
        return None
    seen = {"n": 0}

    def on_batch(_: int) -> None:
        seen["n"] += 1
        if seen["n"] == k:
            os._exit(DIED)

    return on_batch


def main() -> None:
    imp.make_accelerator, imp.prepare = fsdp_accelerator, checked_prepare
    for job in json.loads(sys.argv[1]):
        cfg = imp.ImproveConfig.model_validate_json(job["config"])
        imp.improve(cfg, Path(job["data"]), Path(job["out"]), log=print, on_batch=die_after(job.get("die_after")))


if __name__ == "__main__":
    main()
