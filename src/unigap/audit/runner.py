"""The audit: N candidates per prompt, the model's own verdict on each, external judges' verdicts.

Stages (each resumable: it only does what the store does not hold yet):
  prompts -> generate (N per prompt) -> self-judge -> each external judge -> metrics.json
Every batch is written in one transaction, so a `kill -9` loses at most the batch in flight,
and rerunning the same command continues; rerunning a finished audit does no model work.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import torch

from unigap.analysis.metrics import audit_metrics
from pydantic import Field

from unigap.config import Config, seed_field, defaults_json
from unigap.errors import ConfigError
from unigap.judges.base import ExternalJudge, JudgeConfig, load_judge
from unigap.models.base import ModelConfig, SamplingConfig, SelfJudgeConfig, UnifiedModel, default_sampling, load_model
from unigap.prompts.base import SuiteConfig, load_prompts
from unigap.records import Judgment, Prompt, candidate_seed
from unigap.store import RunStore
from unigap.store.records import CandidateIn
from unigap.vocab import SELF_JUDGE, SOURCE_BASE


class AuditConfig(Config):
    """configs/audit_tiny.yaml."""

    model: ModelConfig = ModelConfig()
    prompts: SuiteConfig = SuiteConfig(per_subtask=20)
    n: int = Field(10, ge=1)  # candidates per prompt
    seed: int = seed_field()
    sampling: SamplingConfig | None = None  # None = the model's recommended sampling
    self_judge: SelfJudgeConfig = SelfJudgeConfig()
    judges: list[JudgeConfig] = [JudgeConfig(name="oracle")]
    source: str = SOURCE_BASE  # the candidates' source label in the store
    batch_size: int = Field(64, ge=1)
    n_boot: int = Field(1000, ge=1)


class Bar(Protocol):
    def start(self, stage: str, total: int) -> None: ...
    def advance(self, n: int) -> None: ...


class NoBar:
    def start(self, stage: str, total: int) -> None:
        pass

    def advance(self, n: int) -> None:
        pass


def batches(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def generate_stage(store: RunStore, model: UnifiedModel, prompts: list[Prompt], cfg: AuditConfig, bar: Bar,
                   source: str | None = None, sampling: SamplingConfig | None = None) -> None:
    source = source or cfg.source
    todo = store.missing_candidates(source, [p.id for p in prompts], cfg.n)
    bar.start(f"generate [{source}]", len(todo))
    if not todo:
        return
    sampling = sampling or cfg.sampling or default_sampling(model)
    text = {p.id: p.text for p in prompts}
    for chunk in batches(todo, cfg.batch_size):
        seeds = [candidate_seed(cfg.seed, pid, idx) for pid, idx in chunk]
        gen = model.generate([text[pid] for pid, _ in chunk], seeds, sampling)
        errors = getattr(gen, "errors", None) or [None] * len(chunk)  # served backends: a row may fail
        rows = [CandidateIn(pid, idx, seed, tok.numpy(), img.numpy())
                for (pid, idx), seed, tok, img, err in zip(chunk, seeds, gen.tokens, gen.images, errors) if err is None]
        store.add_candidates(source, rows)
        store.add_failed_candidates(source, [(pid, idx, seed, err) for (pid, idx), seed, err in zip(chunk, seeds, errors)
                                             if err is not None])
        bar.advance(len(chunk))


JudgeFn = Callable[[torch.Tensor, list[Prompt]], list[Judgment]]
RECORDS_FAILED_CANDIDATES = True  # generate_stage stores a backend's failed rows (Generation.errors) with their reason


def judge_stage(store: RunStore, judge_name: str, fn: JudgeFn, source: str | None, batch_size: int, bar: Bar,
                prompt_ids: set[str] | None = None) -> int:
    """Judge every stored candidate (of these prompts) this judge has not judged yet; returns failures."""
    todo = [c for c in store.missing_judgments(judge_name, source) if prompt_ids is None or c.prompt_id in prompt_ids]
    prompts = {p.id: p for p in store.prompts()}
    bar.start(f"judge [{judge_name}]", len(todo))
    failures = 0
    for chunk in batches(todo, batch_size):
        for same in _by_shape(store, chunk):  # served models may return images of different sizes
            images = torch.from_numpy(np.stack([img for _, img in same]))
            verdicts = _safe_judge(fn, images, [prompts[c.prompt_id] for c, _ in same])
            failures += sum(v.status == "failed" for v in verdicts)
            store.add_judgments(judge_name, [(c.id, v) for (c, _), v in zip(same, verdicts)])
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
    except Exception:  # noqa: BLE001 - judge errors are data here, recorded per item
        out = []
        for img, p in zip(images, prompts):
            try:
                out += fn(img[None], [p])
            except Exception as err:  # noqa: BLE001
                out.append(Judgment(None, None, "", "failed", f"{type(err).__name__}: {err}"))
        return out


def self_judge_fn(model: UnifiedModel, cfg: SelfJudgeConfig) -> JudgeFn:
    return lambda images, prompts: model.judge(images, [p.text for p in prompts], cfg)


def external_fn(judge: ExternalJudge) -> JudgeFn:
    return lambda images, prompts: judge.judge(images, prompts)


def load_judges(cfgs: list[JudgeConfig], where: str = "judges") -> dict[str, ExternalJudge]:
    """Construct the external judges (options validated; errors name `where`[i]); two with one name are an error."""
    judges: dict[str, ExternalJudge] = {}
    for i, jc in enumerate(cfgs):
        judge = load_judge(jc, f"{where}[{i}]")
        if judge.name in judges or judge.name == SELF_JUDGE:
            raise ConfigError(f"{where}[{i}]: a second judge named {judge.name!r}; give each judge its own options "
                              "(e.g. another model) or remove one")
        judges[judge.name] = judge
    return judges


def check_selector(selector: str, judges: dict[str, ExternalJudge], where: str) -> None:
    """The curation selector must be the self-judge or one of the run's external judges."""
    if selector != SELF_JUDGE and selector not in judges:
        raise ConfigError(f"{where}: {selector!r} is not a judge of this run; valid: {SELF_JUDGE}, {', '.join(judges)}")


def audit_into(store: RunStore, cfg: AuditConfig, prompts: list[Prompt], model: UnifiedModel, bar: Bar,
               source: str | None = None, judges: dict[str, ExternalJudge] | None = None) -> dict[str, int]:
    """Generate, self-judge and externally judge `prompts` into an open store; returns failures per judge."""
    source = source or cfg.source
    store.add_prompts(prompts)
    generate_stage(store, model, prompts, cfg, bar, source)
    ids = {p.id for p in prompts}
    fns: dict[str, JudgeFn] = {SELF_JUDGE: self_judge_fn(model, cfg.self_judge)}
    for name, judge in (load_judges(cfg.judges) if judges is None else judges).items():
        fns[name] = external_fn(judge)
    return {name: judge_stage(store, name, fn, source, cfg.batch_size, bar, ids) for name, fn in fns.items()}


def run_audit(cfg: AuditConfig, run_dir: str | Path, bar: Bar | None = None, model: UnifiedModel | None = None) -> dict:
    """Run (or resume) the audit into run_dir; returns the metrics written to metrics.json.

    Launched as several processes (accelerate launch / torchrun): each runs its shard of the
    prompts, see `unigap.audit.distributed.run_audit_sharded`.
    """
    from unigap.audit import distributed

    d = distributed.dist_info()
    if d.enabled:
        return distributed.run_audit_sharded(cfg, run_dir, d, bar, model)
    bar, run_dir = bar or NoBar(), Path(run_dir)
    prompts, model, judges = prepare_audit(cfg, run_dir, model)
    with RunStore.open(run_dir) as store:
        store.init_config(cfg.model_dump(mode="json"), defaults_json(cfg))
        record_provenance(store, cfg.seed, model)
        failures = audit_into(store, cfg, prompts, model, bar, judges=judges)
        store.set_stage("audit", "done", {"failures": failures})
        result = metrics_for(store, cfg.source, {p.id for p in prompts}, cfg.n_boot, cfg.seed)
        (run_dir / "metrics.json").write_text(json.dumps(result, indent=2))
        return result


def prepare_audit(cfg: AuditConfig, run_dir: Path, model: UnifiedModel | None = None
                  ) -> tuple[list[Prompt], UnifiedModel, dict[str, ExternalJudge]]:
    """Everything the audit needs, loaded and checked before anything is written."""
    from unigap.store.runstore import check_out_dir

    check_out_dir(run_dir, cfg.model_dump(mode="json"), defaults_json(cfg))
    prompts = load_prompts(cfg.prompts)
    judges = load_judges(cfg.judges)
    check_prompts_for(judges, prompts)
    return prompts, model or load_model(cfg.model), judges


def check_prompts_for(judges: dict[str, ExternalJudge], prompts: list[Prompt]) -> None:
    """Judges that need per-prompt metadata (GenEval's include/exclude) check it before any generation."""
    for judge in judges.values():
        check = getattr(judge, "check_prompts", None)
        if callable(check):
            check(prompts)


def metrics_for(store: RunStore, source: str, prompt_ids: set[str], n_boot: int, seed: int,
                self_judge: str = SELF_JUDGE) -> dict:
    rows = [r for r in store.judgments(source=source) if r.prompt_id in prompt_ids]
    result = audit_metrics(rows, self_judge, n_boot, seed)
    result["counts"] = store.counts()
    result["source"] = source
    return result


def record_provenance(store: RunStore, seed: int, model: UnifiedModel) -> None:
    from unigap.store import provenance

    if store.get_meta("provenance") is None:
        from unigap.models.base import supports

        sha = model.weights_sha256() if supports(model, "weights_sha256") else None  # type: ignore[attr-defined]
        extra = {"seeds": {"seed": seed}, "checkpoint_sha256": sha, "model_fingerprint": model.fingerprint()}
        store.set_meta("provenance", provenance(extra))
