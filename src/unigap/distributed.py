"""Several processes of one command (`accelerate launch --num_processes K`, torchrun): who this process is,
its share of a list, and collectives that agree on failure.

Rank and world size come from the launcher's environment (RANK / WORLD_SIZE / LOCAL_RANK as
set by torchrun and `accelerate launch`, or MPI's variables: those accelerate's
get_cpu_distributed_information reads). The callers only need barriers and a few small objects,
so this uses a gloo process group (CPU sockets) on any hardware, with a long timeout: a finished
rank may wait hours for a resumed one. The sharded audit (unigap.audit.runner.run_audit_sharded)
is its user; `unigap improve` reads `dist_info` to let rank 0 alone report.
Note: on a machine without GPUs, `accelerate launch` runs K > 1 processes only with --multi_gpu
(it then uses torchrun); `torchrun --nproc_per_node K -m unigap audit ...` works everywhere.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from unigap.errors import UnigapError

T = TypeVar("T")
TIMEOUT_ENV = "UNIGAP_DIST_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 48 * 3600


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


# The variables accelerate's get_cpu_distributed_information reads (torchrun's first, then MPI's);
# read here directly so that a single process does not import accelerate.
_RANK = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")
_WORLD = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
_LOCAL = ("LOCAL_RANK", "MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK", "MV2_COMM_WORLD_LOCAL_RANK")


def _env_int(names: tuple[str, ...], default: int) -> int:
    for name in names:
        value = os.environ.get(name)
        if value not in (None, ""):
            try:
                return int(value)
            except ValueError:
                raise UnigapError(f"distributed launch: ${name}={value!r} is not an integer") from None
    return default


def dist_info() -> Dist:
    """This process's place in the launch (1 process when not launched by a distributed launcher)."""
    rank, world, local = _env_int(_RANK, 0), _env_int(_WORLD, 1), _env_int(_LOCAL, 0)
    if world > 1 and not 0 <= rank < world:
        raise UnigapError(f"distributed launch: rank {rank} outside world size {world}")
    return Dist(rank, world, local)


def shard(items: Sequence[T], d: Dist) -> list[T]:
    """Rank r's share: items[r::world_size] (balanced to within one item)."""
    return list(items[d.rank :: d.world_size])


def rank_device(device: str, d: Dist) -> str:
    """A bare "cuda" means this rank's own GPU (cuda:LOCAL_RANK) when several processes run."""
    return f"cuda:{d.local_rank}" if d.enabled and device == "cuda" else device


_GROUP: Any = None
_OWN_WORLD = False  # init() made the default group (so shutdown() destroys it)


def init(d: Dist) -> None:
    """Join the process group (gloo); idempotent. A launcher-made default group is reused when it is
    gloo, else a gloo group is made beside it (barriers then never need a GPU)."""
    global _GROUP, _OWN_WORLD
    import torch.distributed as dist

    if not d.enabled or _GROUP is not None:
        return
    timeout = timedelta(seconds=float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S)))
    if not dist.is_initialized():
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29500")
        dist.init_process_group("gloo", rank=d.rank, world_size=d.world_size, timeout=timeout)
        _OWN_WORLD = True
    _GROUP = dist.group.WORLD if dist.get_backend() == "gloo" else dist.new_group(backend="gloo", timeout=timeout)


def shutdown(d: Dist) -> None:
    """Leave the gloo group once every rank is done (a barrier first). A rank that exits with its
    group alive can abort at interpreter exit ("terminate called without an active exception")
    when its peer, the host of the rendezvous store, has already gone. A launcher's group is kept."""
    global _GROUP, _OWN_WORLD
    import torch.distributed as dist

    if not d.enabled or _GROUP is None:
        return
    dist.barrier(group=_GROUP)
    if _OWN_WORLD:
        dist.destroy_process_group()
    elif _GROUP is not dist.group.WORLD:
        dist.destroy_process_group(_GROUP)
    _GROUP, _OWN_WORLD = None, False


def gather(obj: Any, d: Dist) -> list[Any]:
    """Every rank's `obj`, by rank (a collective: also a barrier)."""
    if not d.enabled:
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * d.world_size
    dist.all_gather_object(out, obj, group=_GROUP)
    return out


def all_succeeded(d: Dist, error: BaseException | None) -> None:
    """Barrier that also agrees on failure: if any rank failed, every rank raises (the failing rank
    its own error), instead of the others waiting for it forever."""
    failed = [(r, msg) for r, msg in enumerate(gather(None if error is None else _describe(error), d)) if msg]
    if error is not None:
        raise error
    if failed:
        names = "; ".join(f"rank {r}: {msg}" for r, msg in failed)
        raise UnigapError(
            f"distributed run stopped because another rank failed ({names}); "
            "fix it and rerun the same command to resume"
        )


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}".splitlines()[0][:500]


def run_step(d: Dist, fn: Any) -> Any:
    """fn() on this rank, then all_succeeded: the step's result once every rank has finished it."""
    try:
        result, error = fn(), None
    except Exception as err:  # noqa: BLE001 - handed to all_succeeded, re-raised here
        result, error = None, err
    all_succeeded(d, error)
    return result
