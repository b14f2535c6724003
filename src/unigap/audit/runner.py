"""The audit: N candidates per prompt, the model's own verdict on each, external judges' verdicts.

Stages (each resumable: it only does what the store does not hold yet):
  prompts -> generate (N per prompt) -> self-judge -> each external judge -> metrics.json
Every chunk (`chunk_size` candidates) is written in one transaction, so a `kill -9` loses at most the chunk in flight,
and rerunning the same command continues; rerunning a finished audit does no model work.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from pydantic import Field

from unigap.analysis.metrics import audit_metrics
from unigap.config import Config, defaults_json, seed_field
from unigap.distributed import Dist, dist_info, gather, init, rank_device, run_step, shard, shutdown
from unigap.errors import ConfigError, UnigapError
from unigap.files import write_json
from unigap.judges.base import ExternalJudge, JudgeConfig, judge_columns, load_judge, routes
from unigap.models.base import ModelConfig, SamplingConfig, SelfJudgeConfig, UnifiedModel, default_sampling, load_model
from unigap.prompts.base import SuiteConfig, load_prompts
from unigap.records import Judgment, Prompt, candidate_seed
from unigap.store import RunStore, merge_parts
from unigap.store.rows import CandidateIn
from unigap.vocab import SELF_JUDGE, SOURCE_BASE


class AuditConfig(Config):
    """configs/audit_tiny.yaml."""

    renamed = {"batch_size": "chunk_size"}

    model: ModelConfig = ModelConfig()
    prompts: SuiteConfig = SuiteConfig(per_subtask=20)
    n: int = Field(10, ge=1)  # candidates per prompt
    seed: int = seed_field()
    sampling: SamplingConfig | None = None  # None = the model's recommended sampling
    self_judge: SelfJudgeConfig = SelfJudgeConfig()
    judges: list[JudgeConfig] = [JudgeConfig(name="oracle")]
    source: str = SOURCE_BASE  # the candidates' source label in the store
    chunk_size: int = Field(64, ge=1)  # candidates generated, judged and stored per chunk
    n_boot: int = Field(1000, ge=1)


class Bar(Protocol):
    """Progress of a stage: `total` items of which `done` were already stored (a resumed stage)."""

    def start(self, stage: str, total: int, done: int = 0) -> None: ...
    def advance(self, n: int) -> None: ...


class NoBar:
    def start(self, stage: str, total: int, done: int = 0) -> None:
        pass

    def advance(self, n: int) -> None:
        pass


def batches(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def generate_stage(
    store: RunStore,
    model: UnifiedModel,
    prompts: list[Prompt],
    cfg: AuditConfig,
    bar: Bar,
    source: str | None = None,
    sampling: SamplingConfig | None = None,
) -> None:
    source = source or cfg.source
    todo = store.missing_candidates(source, [p.id for p in prompts], cfg.n)
    total = len({p.id for p in prompts}) * cfg.n
    bar.start(f"generate [{source}]", total, total - len(todo))
    if not todo:
        return
    sampling = sampling or cfg.sampling or default_sampling(model)
    text = {p.id: p.text for p in prompts}
    for chunk in batches(todo, cfg.chunk_size):
        seeds = [candidate_seed(cfg.seed, pid, idx) for pid, idx in chunk]
        with recording_failures(model):
            gen = model.generate([text[pid] for pid, _ in chunk], seeds, sampling)
        errors = getattr(gen, "errors", None) or [None] * len(chunk)  # served backends: a row may fail
        rows = [
            CandidateIn(pid, idx, seed, tok.numpy(), img.numpy())
            for (pid, idx), seed, tok, img, err in zip(chunk, seeds, gen.tokens, gen.images, errors)
            if err is None
        ]
        store.add_candidates(source, rows)
        store.add_failed_candidates(
            source, [(pid, idx, seed, err) for (pid, idx), seed, err in zip(chunk, seeds, errors) if err is not None]
        )
        bar.advance(len(chunk))


@contextmanager
def recording_failures(model: UnifiedModel) -> Iterator[None]:
    """generate_stage stores a backend's failed rows (Generation.errors) with their reason: a backend that can
    fail per row (served: `record_failures`) returns them while this lasts, and raises for other callers."""
    if not hasattr(model, "record_failures"):
        yield
        return
    before, model.record_failures = model.record_failures, True  # type: ignore[attr-defined]
    try:
        yield
    finally:
        model.record_failures = before  # type: ignore[attr-defined]


JudgeFn = Callable[[torch.Tensor, list[Prompt]], list[Judgment]]


def judge_stage(
    store: RunStore,
    judge_name: str,
    fn: JudgeFn,
    source: str | None,
    chunk_size: int,
    bar: Bar,
    prompt_ids: set[str] | None = None,
    retry_failed: bool = False,
) -> int:
    """Judge every stored candidate (of these prompts) this judge has not judged yet (retry_failed: and those
    whose verdict failed, replaced); returns the failures of this call. A judge that raises UnigapError
    (a server that is not there, a missing key) stops the stage: what is stored stays, a rerun continues."""
    todo = [
        c
        for c in store.missing_judgments(judge_name, source, retry_failed=retry_failed)
        if prompt_ids is None or c.prompt_id in prompt_ids
    ]
    prompts = {p.id: p for p in store.prompts()}
    total = store.count_candidates(source, prompt_ids)
    bar.start(f"judge [{judge_name}]", total, total - len(todo))
    failures = 0
    for chunk in batches(todo, chunk_size):
        for same in _by_shape(store, chunk):  # served models may return images of different sizes
            images = torch.from_numpy(np.stack([img for _, img in same]))
            verdicts = _safe_judge(fn, images, [prompts[c.prompt_id] for c, _ in same])
            failures += sum(v.status == "failed" for v in verdicts)
            store.add_judgments(judge_name, [(c.id, v) for (c, _), v in zip(same, verdicts)], replace=retry_failed)
        bar.advance(len(chunk))
    return failures


def _by_shape(store: RunStore, chunk: list) -> list[list]:
    """[(candidate, image)] groups of one image shape each, in first-seen order."""
    groups: dict[tuple, list] = {}
    for c in chunk:
        img = store.load_image(c.png)
        groups.setdefault(img.shape, []).append((c, img))
    return list(groups.values())


def _safe_judge(fn: JudgeFn, images: torch.Tensor, prompts: list[Prompt]) -> list[Judgment]:
    """A judge that raises on a batch: retry item by item, recording each failing item as failed."""
    try:
        return fn(images, prompts)
    except UnigapError:
        raise  # the judge cannot work at all (unreachable server, missing key): stop, do not record
    except Exception:  # noqa: BLE001 - judge errors are data here, recorded per item
        out = []
        for img, p in zip(images, prompts):
            try:
                out += fn(img[None], [p])
            except UnigapError:
                raise
            except Exception as err:  # noqa: BLE001
                out.append(Judgment(None, None, "", "failed", f"{type(err).__name__}: {err}"))
        return out


def self_judge_fn(model: UnifiedModel, cfg: SelfJudgeConfig) -> JudgeFn:
    return lambda images, prompts: model.judge(images, [p.text for p in prompts], cfg)


def external_fn(judge: ExternalJudge) -> JudgeFn:
    return lambda images, prompts: judge.judge(images, prompts)


def load_judges(cfgs: list[JudgeConfig], where: str = "judges") -> dict[str, ExternalJudge]:
    """Construct the external judges (options validated; errors name `where`[i]); two writing one judge
    column (e.g. `geneval` beside `benchmark`, which writes "geneval" too) are an error."""
    judges: dict[str, ExternalJudge] = {}
    taken = {SELF_JUDGE}
    for i, jc in enumerate(cfgs):
        judge = load_judge(jc, f"{where}[{i}]")
        clash = [c for c in [judge.name, *judge_columns(judge)] if c in taken]
        if clash:
            raise ConfigError(
                f"{where}[{i}]: a second judge writing {clash[0]!r}; give each judge its own options "
                "(e.g. another model) or remove one"
            )
        taken.update([judge.name, *judge_columns(judge)])
        judges[judge.name] = judge
    return judges


def check_selector(selector: str, judges: dict[str, ExternalJudge], where: str) -> None:
    """The curation selector must be the self-judge or a judge column of the run's external judges."""
    valid = [c for j in judges.values() for c in judge_columns(j)]
    if selector != SELF_JUDGE and selector not in valid:
        raise ConfigError(f"{where}: {selector!r} is not a judge of this run; valid: {', '.join([SELF_JUDGE, *valid])}")


def audit_into(
    store: RunStore,
    cfg: AuditConfig,
    prompts: list[Prompt],
    model: UnifiedModel,
    bar: Bar,
    source: str | None = None,
    judges: dict[str, ExternalJudge] | None = None,
) -> dict[str, int]:
    """Generate, self-judge and externally judge `prompts` into an open store; returns failures per judge.
    Failed judgments stored by an earlier run are judged again (replaced)."""
    source = source or cfg.source
    store.add_prompts(prompts)
    generate_stage(store, model, prompts, cfg, bar, source)
    stages: dict[str, tuple[JudgeFn, set[str]]] = {
        SELF_JUDGE: (self_judge_fn(model, cfg.self_judge), {p.id for p in prompts})
    }
    for judge in (load_judges(cfg.judges) if judges is None else judges).values():
        for r in routes(judge, prompts):  # a routing judge (benchmark): one stage per scorer column
            stages[r.column] = (external_fn(r.judge), {p.id for p in r.prompts})
    return {
        name: judge_stage(store, name, fn, source, cfg.chunk_size, bar, ids, retry_failed=True)
        for name, (fn, ids) in stages.items()
    }


def run_audit(
    cfg: AuditConfig,
    run_dir: str | Path,
    bar: Bar | None = None,
    model: UnifiedModel | None = None,
    add_prompts: bool = False,
    yes: bool = True,
) -> dict:
    """Run (or resume) the audit into run_dir; returns the metrics written to metrics.json.

    The stage "audit" is recorded as running (with what it will produce) before any work, and done
    only once every candidate is generated and judged; a judge whose every verdict failed marks it
    failed and raises (a rerun judges the failed ones again).
    Launched as several processes (accelerate launch / torchrun): each runs its shard of the
    prompts, see `run_audit_sharded`.
    """
    d = dist_info()
    if d.enabled:
        return run_audit_sharded(cfg, run_dir, d, bar, model, add_prompts)
    bar, run_dir = bar or NoBar(), Path(run_dir)
    prompts, model, judges = prepare_audit(cfg, run_dir, model, add_prompts, yes)
    with RunStore.open(run_dir) as store:
        store.init_config(cfg.model_dump(mode="json"), defaults_json(cfg), AuditConfig)
        record_provenance(store, cfg.seed, model)
        record_command(store)
        store.set_stage("audit", "running", expected(cfg, prompts, judges))
        failures = audit_into(store, cfg, prompts, model, bar, judges=judges)
        ids = {p.id for p in prompts}
        dead = dead_judges(store, cfg.source, ids, columns_of(judges))
        store.set_stage(
            "audit",
            "failed" if dead else "done",
            {**expected(cfg, prompts, judges), "failures": failures, **({"dead_judges": dead} if dead else {})},
        )
        result = metrics_for(store, cfg.source, ids, cfg.n_boot, cfg.seed)
        write_json(run_dir / "metrics.json", result)
    raise_dead_judges(dead, run_dir)
    return result


def expected(cfg: AuditConfig, prompts: list[Prompt], judges: dict[str, ExternalJudge]) -> dict:
    """What a finished audit holds (the stage's info, read by `curate` to say what is missing)."""
    return {
        "prompts": len(prompts),
        "n": cfg.n,
        "candidates": len(prompts) * cfg.n,
        "source": cfg.source,
        "judges": columns_of(judges),
    }


def columns_of(judges: dict[str, ExternalJudge]) -> list[str]:
    """The judge columns an audit writes: the self-judge's and each external judge's (a routing judge: several)."""
    return [SELF_JUDGE, *(c for j in judges.values() for c in judge_columns(j))]


def dead_judges(store: RunStore, source: str, prompt_ids: set[str], judges: list[str]) -> dict[str, dict]:
    """Judges whose every verdict on these prompts failed: {judge: {"failed", "first_reason"}}."""
    out: dict[str, dict] = {}
    rows = [r for r in store.judgments(source=source) if r.prompt_id in prompt_ids]
    for judge in judges:
        mine = [r for r in rows if r.judge == judge]
        if mine and all(r.status == "failed" for r in mine):
            out[judge] = {"failed": len(mine), "first_reason": mine[0].error or "no reason recorded"}
    return out


def raise_dead_judges(dead: dict[str, dict], run_dir: Path) -> None:
    if dead:
        lines = [
            f"judge {j!r}: all {d['failed']} judgments failed; first reason: {d['first_reason']}"
            for j, d in dead.items()
        ]
        raise UnigapError(
            "\n".join(lines) + f"\nThe candidates and every other verdict are stored in {run_dir}; fix "
            "the cause and rerun the same command: the failed judgments are judged again."
        )


def record_command(store: RunStore) -> None:
    """The command line that writes this run (meta "command"), for messages that say how to finish it."""
    import shlex
    import sys

    if Path(sys.argv[0]).name in ("unigap", "__main__.py") and "unigap" in sys.argv[0]:
        store.set_meta("command", "unigap " + shlex.join(sys.argv[1:]))


def prepare_audit(
    cfg: AuditConfig, run_dir: Path, model: UnifiedModel | None = None, add_prompts: bool = False, yes: bool = True
) -> tuple[list[Prompt], UnifiedModel, dict[str, ExternalJudge]]:
    """Everything the audit needs, loaded and checked before anything is written: the out dir, the config
    against a stored one, the prompts (and against the stored ones), the judges, the model, whether the
    model takes every prompt, and (yes=False) the job's size."""
    from unigap.store.runstore import check_out_dir

    check_out_dir(run_dir, cfg.model_dump(mode="json"), defaults_json(cfg), cls=AuditConfig)
    prompts = load_prompts(cfg.prompts)
    check_out_dir(run_dir, prompts=prompts, add_prompts=add_prompts)
    judges = load_judges(cfg.judges)
    check_prompts_for(judges, prompts)
    model = model or load_model(cfg.model)
    check_model_prompts(model, prompts, cfg.self_judge)
    check_job_size(
        job_size(len(prompts), cfg.n), f"{len(prompts)} prompts x n={cfg.n}", model, prompts[0].text, cfg.sampling, yes
    )
    return prompts, model, judges


CONFIRM_ABOVE = 200_000  # candidates; a job this large prints its size and needs --yes
PROBE_ROWS = 4  # timed after one warm-up candidate


def job_size(prompts: int, n: int) -> int:
    return prompts * n


def probe_seconds(model: UnifiedModel, text: str, sampling: SamplingConfig | None) -> float:
    """Seconds per candidate on this machine: PROBE_ROWS candidates of one prompt in one batch, after a
    warm-up candidate (nothing stored)."""
    import time

    sampling = sampling or default_sampling(model)
    model.generate([text], [0], sampling)
    t0 = time.perf_counter()
    model.generate([text] * PROBE_ROWS, list(range(PROBE_ROWS)), sampling)
    return (time.perf_counter() - t0) / PROBE_ROWS


def check_job_size(
    candidates: int, detail: str, model: UnifiedModel, text: str, sampling: SamplingConfig | None, yes: bool
) -> str | None:
    """Above CONFIRM_ABOVE candidates: probe the model and refuse without `yes` (UnigapError with the job's size
    and an estimated time). Returns the size line (None below the threshold)."""
    if candidates <= CONFIRM_ABOVE:
        return None
    per = probe_seconds(model, text, sampling)
    line = (
        f"this job generates {candidates:,} candidates ({detail}); at {per * 1000:.0f} ms per candidate "
        f"(a {PROBE_ROWS}-candidate probe on this machine) generation alone takes about {_hours(per * candidates)}"
    )
    if not yes:
        raise UnigapError(f"{line}. Pass --yes to start it anyway, or lower n / prompts.per_subtask.")
    return line


def _hours(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def check_model_prompts(
    model: UnifiedModel, prompts: list[Prompt], judge: SelfJudgeConfig, where: str = "prompts"
) -> None:
    """A backend that knows its limits (`prompt_problems`: the tiny model's prompt length and context)
    refuses prompts it could not generate for or judge, before anything is written."""
    check = getattr(type(model), "prompt_problems", None)  # on the class: validation never touches the weights
    if not callable(check):
        return
    problems = check(model, [p.text for p in prompts], judge)
    if problems:
        shown = "\n".join(f"  {prompts[i].id}: {reason}" for i, reason in problems[:8])
        more = f"\n  ... and {len(problems) - 8} more" if len(problems) > 8 else ""
        raise ConfigError(f"{where}: {len(problems)} prompt(s) the {model.name!r} model cannot take:\n{shown}{more}")


def check_prompts_for(judges: dict[str, ExternalJudge], prompts: list[Prompt]) -> None:
    """Before any generation: judges that need per-prompt metadata (GenEval's include/exclude, the oracle's
    ShapeWorld spec) check it, and judges behind a server check that it answers the phone."""
    for judge in judges.values():
        check = getattr(judge, "check_prompts", None)
        if callable(check):
            check(prompts)
        reachable = getattr(judge, "check_reachable", None)
        if callable(reachable):
            reachable()


def metrics_for(
    store: RunStore, source: str, prompt_ids: set[str], n_boot: int, seed: int, self_judge: str = SELF_JUDGE
) -> dict:
    rows = [r for r in store.judgments(source=source) if r.prompt_id in prompt_ids]
    result = audit_metrics(rows, self_judge, n_boot, seed, benchmarks_of(store, prompt_ids))
    result["counts"] = store.counts()
    result["source"] = source
    result["failures"] = failure_reasons(store, rows, source, prompt_ids)
    return result


def failure_reasons(store: RunStore, rows: list, source: str, prompt_ids: set[str]) -> dict[str, dict]:
    """{judge: {"failed", "of", "first_reason"}} for the judges with failed verdicts, and "generation" for
    candidates the backend could not produce: what the printed table's footnote says."""
    out: dict[str, dict] = {}
    for r in rows:
        entry = out.setdefault(r.judge, {"failed": 0, "of": 0, "first_reason": None})
        entry["of"] += 1
        if r.status == "failed":
            entry["failed"] += 1
            entry["first_reason"] = entry["first_reason"] or r.error or "no reason recorded"
    lost = [f for f in store.failed_candidates(source) if f["prompt_id"] in prompt_ids]
    out = {j: e for j, e in out.items() if e["failed"]}
    if lost:
        out["generation"] = {"failed": len(lost), "of": None, "first_reason": lost[0]["reason"]}
    return out


def benchmarks_of(store: RunStore, prompt_ids: set[str]) -> dict[str, str]:
    """{subtask: benchmark} of these prompts (GenEval, T2I-CompBench, Science-T2I; others left out)."""
    from unigap.judges.scoring import subtask_benchmarks

    return subtask_benchmarks(p for p in store.prompts() if p.id in prompt_ids)


def record_provenance(store: RunStore, seed: int, model: UnifiedModel) -> None:
    from unigap.store import provenance

    if store.get_meta("provenance") is None:
        from unigap.models.base import supports

        sha = model.weights_sha256() if supports(model, "weights_sha256") else None  # type: ignore[attr-defined]
        extra = {"seeds": {"seed": seed}, "checkpoint_sha256": sha, "model_fingerprint": model.fingerprint()}
        store.set_meta("provenance", provenance(extra))


# --------------------------------------------------------------------------------------- the sharded audit
# Several processes share one audit (`accelerate launch --num_processes K -m unigap audit`, or torchrun;
# rank, world size and the collectives: unigap.distributed). Who does what (the run dir is shared,
# e.g. a local disk or NFS):
#   every rank r   loads the model on its own device, takes prompts[r::K], and runs the whole audit
#                  (generate, self-judge, external judges) of that shard into its own part store
#                  RUN_DIR/parts/rank{r}.sqlite (which also keeps a copy of the config, so a part
#                  refuses a changed config on resume, and its shard's prompts, which its
#                  candidates and judgments reference). PNGs go to the shared RUN_DIR/images.
#   rank 0, first  writes the main store RUN_DIR/run.sqlite: the config (init_config: a changed
#                  config is refused before any work starts), every prompt, and the provenance
#                  (model fingerprint, which curation reads) - the main store is a valid run from
#                  the start, before any candidate is merged.
#   rank 0, last   once every rank has finished its shard (a collective: the barrier), merges the
#                  parts into the main store (`merge_parts`: idempotent, parts are kept), marks
#                  the audit stage done and writes metrics.json from the main store.
# A killed rank loses at most its chunk in flight: relaunching the same command resumes every
# rank's shard from its part (finished ranks find nothing to do and wait), then merges again.


def run_audit_sharded(
    cfg: AuditConfig,
    run_dir: str | Path,
    d: Dist,
    bar: Bar | None = None,
    model: UnifiedModel | None = None,
    add_prompts: bool = False,
) -> dict:
    """One rank of a multi-process audit (who writes what: the section's comment above).

    Every step ends with a collective that also agrees on failure, so an error on one rank
    stops all of them instead of leaving the others waiting at a barrier.
    """
    bar, run_dir = bar or NoBar(), Path(run_dir)
    init(d)
    prompts, model, judges = run_step(d, lambda: _setup(cfg, run_dir, d, model, add_prompts))
    # every shard done: the barrier
    failures = gather(run_step(d, lambda: _audit_shard(cfg, run_dir, d, prompts, model, judges, bar)), d)
    run_step(d, lambda: _finish(cfg, run_dir, d, prompts, judges, failures))
    shutdown(d)
    return json.loads((run_dir / "metrics.json").read_text())


def _setup(
    cfg: AuditConfig, run_dir: Path, d: Dist, model: UnifiedModel | None, add_prompts: bool = False
) -> tuple[list[Prompt], UnifiedModel, dict[str, ExternalJudge]]:
    """Prompts, judges and this rank's model, loaded before anything is written; rank 0 then
    writes the main store's config, prompts and provenance; every rank opens its part."""
    from unigap.store.runstore import check_out_dir

    config = cfg.model_dump(mode="json")  # the config as given: the same on every rank
    defaults = defaults_json(cfg)
    if d.is_main:  # read-only; rank 0 alone, since it alone writes the main store
        check_out_dir(run_dir, config, defaults, cls=AuditConfig)
    prompts, judges = load_prompts(cfg.prompts), load_judges(cfg.judges)
    if d.is_main:
        check_out_dir(run_dir, prompts=prompts, add_prompts=add_prompts)
    check_prompts_for(judges, prompts)
    model = model or load_model(cfg.model.model_copy(update={"device": rank_device(cfg.model.device, d)}))
    check_model_prompts(model, prompts, cfg.self_judge)
    if d.is_main:
        with RunStore.open(run_dir) as main:
            main.init_config(config, defaults, AuditConfig)
            main.add_prompts(prompts)
            record_provenance(main, cfg.seed, model)
            record_command(main)
            main.set_stage("audit", "running", {**expected(cfg, prompts, judges), "world_size": d.world_size})
    with RunStore.open_part(run_dir, d.rank) as part:
        part.init_config(config, defaults, AuditConfig)
    return prompts, model, judges


def _audit_shard(
    cfg: AuditConfig,
    run_dir: Path,
    d: Dist,
    prompts: list[Prompt],
    model: UnifiedModel,
    judges: dict[str, ExternalJudge],
    bar: Bar,
) -> dict[str, int]:
    """This rank's share of the prompts, audited into its part store; failures per judge."""
    with RunStore.open_part(run_dir, d.rank) as part:
        failures = audit_into(part, cfg, shard(prompts, d), model, bar, judges=judges)
        part.set_stage("audit", "done", {"failures": failures, "rank": d.rank, "world_size": d.world_size})
        return failures


def _finish(
    cfg: AuditConfig,
    run_dir: Path,
    d: Dist,
    prompts: list[Prompt],
    judges: dict[str, ExternalJudge],
    failures: list[dict[str, int]],
) -> None:
    """Rank 0: merge the parts, mark the audit done (or failed: a judge whose every verdict failed,
    as in the one-process audit), write metrics.json (other ranks: nothing)."""
    if not d.is_main:
        return
    merge_parts(run_dir)
    total: dict[str, int] = {}
    for f in failures:
        for name, n in f.items():
            total[name] = total.get(name, 0) + n
    ids = {p.id for p in prompts}
    with RunStore.open(run_dir) as main:
        dead = dead_judges(main, cfg.source, ids, columns_of(judges))
        info = {**expected(cfg, prompts, judges), "failures": total, "world_size": d.world_size}
        main.set_stage("audit", "failed" if dead else "done", {**info, **({"dead_judges": dead} if dead else {})})
        result = metrics_for(main, cfg.source, ids, cfg.n_boot, cfg.seed)
    write_json(run_dir / "metrics.json", result)
    raise_dead_judges(dead, run_dir)
