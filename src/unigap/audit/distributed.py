"""Audit scale-out: several processes share one audit (`accelerate launch --num_processes K -m unigap audit`).

Who does what (the run dir is shared, e.g. a local disk or NFS):
  every rank r   loads the model on its own device, takes prompts[r::K], and runs the whole audit
                 (generate, self-judge, external judges) of that shard into its own part store
                 RUN_DIR/parts/rank{r}.sqlite (which also keeps a copy of the config, so a part
                 refuses a changed config on resume, and its shard's prompts, which its
                 candidates and judgments reference). PNGs go to the shared RUN_DIR/images.
  rank 0, first  writes the main store RUN_DIR/run.sqlite: the config (init_config: a changed
                 config is refused before any work starts), every prompt, and the provenance
                 (model fingerprint, which curation reads) - the main store is a valid run from
                 the start, before any candidate is merged.
  rank 0, last   once every rank has finished its shard (a collective: the barrier), merges the
                 parts into the main store (`merge_parts`: idempotent, parts are kept), marks
                 the audit stage done and writes metrics.json from the main store.
A killed rank loses at most its batch in flight: relaunching the same command resumes every
rank's shard from its part (finished ranks find nothing to do and wait), then merges again.

Rank and world size come from the launcher's environment (RANK / WORLD_SIZE / LOCAL_RANK as
set by torchrun and `accelerate launch`, or MPI's variables: those accelerate's
get_cpu_distributed_information reads). The
audit only needs barriers and a few small objects, so it uses a gloo process group (CPU sockets)
on any hardware, with a long timeout: a finished rank may wait hours for a resumed one.
Note: on a machine without GPUs, `accelerate launch` runs K > 1 processes only with --multi_gpu
(it then uses torchrun); `torchrun --nproc_per_node K -m unigap audit ...` works everywhere.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Sequence, TypeVar

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
# read here directly so that a single-process audit does not import accelerate.
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
        raise UnigapError(f"distributed audit stopped because another rank failed ({names}); "
                          "fix it and rerun the same command to resume")


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


# --------------------------------------------------------------------------------------- the sharded audit


def run_audit_sharded(cfg: Any, run_dir: str | Path, d: Dist, bar: Any = None, model: Any = None,
                      add_prompts: bool = False) -> dict:
    """One rank of a multi-process audit (`cfg` an AuditConfig; who writes what: the module docstring).

    Every step ends with a collective that also agrees on failure, so an error on one rank
    stops all of them instead of leaving the others waiting at a barrier.
    """
    from unigap.audit.runner import NoBar

    bar, run_dir = bar or NoBar(), Path(run_dir)
    init(d)
    prompts, model, judges = run_step(d, lambda: _setup(cfg, run_dir, d, model, add_prompts))
    # every shard done: the barrier
    failures = gather(run_step(d, lambda: _audit_shard(cfg, run_dir, d, prompts, model, judges, bar)), d)
    run_step(d, lambda: _finish(cfg, run_dir, d, prompts, failures))
    shutdown(d)
    return json.loads((run_dir / "metrics.json").read_text())


def _setup(cfg: Any, run_dir: Path, d: Dist, model: Any, add_prompts: bool = False) -> tuple[list, Any, dict]:
    """Prompts, judges and this rank's model, loaded before anything is written; rank 0 then
    writes the main store's config, prompts and provenance; every rank opens its part."""
    from unigap.audit.runner import check_model_prompts, check_prompts_for, expected, load_judges, record_command, \
        record_provenance
    from unigap.config import defaults_json
    from unigap.models.base import load_model
    from unigap.prompts.base import load_prompts
    from unigap.store import RunStore
    from unigap.store.runstore import check_out_dir

    config = cfg.model_dump(mode="json")  # the config as given: the same on every rank
    defaults = defaults_json(cfg)
    if d.is_main:  # read-only; rank 0 alone, since it alone writes the main store
        check_out_dir(run_dir, config, defaults)
    prompts, judges = load_prompts(cfg.prompts), load_judges(cfg.judges)
    if d.is_main:
        check_out_dir(run_dir, prompts=prompts, add_prompts=add_prompts)
    check_prompts_for(judges, prompts)
    model = model or load_model(cfg.model.model_copy(update={"device": rank_device(cfg.model.device, d)}))
    check_model_prompts(model, prompts, cfg.self_judge)
    if d.is_main:
        with RunStore.open(run_dir) as main:
            main.init_config(config, defaults)
            main.add_prompts(prompts)
            record_provenance(main, cfg.seed, model)
            record_command(main)
            main.set_stage("audit", "running", {**expected(cfg, prompts, judges), "world_size": d.world_size})
    with RunStore.open_part(run_dir, d.rank) as part:
        part.init_config(config, defaults)
    return prompts, model, judges


def _audit_shard(cfg: Any, run_dir: Path, d: Dist, prompts: list, model: Any, judges: dict, bar: Any) -> dict[str, int]:
    """This rank's share of the prompts, audited into its part store; failures per judge."""
    from unigap.audit.runner import audit_into
    from unigap.store import RunStore

    with RunStore.open_part(run_dir, d.rank) as part:
        failures = audit_into(part, cfg, shard(prompts, d), model, bar, judges=judges)
        part.set_stage("audit", "done", {"failures": failures, "rank": d.rank, "world_size": d.world_size})
        return failures


def _finish(cfg: Any, run_dir: Path, d: Dist, prompts: list, failures: list[dict[str, int]]) -> None:
    """Rank 0: merge the parts, mark the audit done, write metrics.json (other ranks: nothing)."""
    from unigap.audit.runner import metrics_for
    from unigap.store import RunStore, merge_parts
    from unigap.store.files import write_json

    if not d.is_main:
        return
    merge_parts(run_dir)
    total: dict[str, int] = {}
    for f in failures:
        for name, n in f.items():
            total[name] = total.get(name, 0) + n
    with RunStore.open(run_dir) as main:
        main.set_stage("audit", "done", {"failures": total, "world_size": d.world_size})
        result = metrics_for(main, cfg.source, {p.id for p in prompts}, cfg.n_boot, cfg.seed)
    write_json(run_dir / "metrics.json", result)
