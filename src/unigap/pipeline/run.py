"""`unigap run`: the whole loop, resumable, in one run directory.

  audit_train    N candidates per train prompt from the base model, self-judged, oracle-checked
  curate         -> RUN_DIR/data (SFT set, DPO pairs, discard pool)
  improve        -> RUN_DIR/improve/model (C-SFT by default)
  audit_eval     the eval prompts with the base model (source "base") and the improved one ("improved")
  winrate        the improved model's understanding judges the base model's eval images
  results        before/after per band with CIs -> RUN_DIR/results.json
Every stage only does what the store does not hold yet; rerunning continues where it stopped.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from unigap.audit.runner import AuditConfig, Bar, NoBar, audit_into, judge_stage, metrics_for, record_provenance, self_judge_fn
from unigap.config import Config
from unigap.curation.curate import CurateConfig
from unigap.curation.dataset import write_curation
from unigap.judges.base import JudgeConfig
from unigap.models.base import ModelConfig, SamplingConfig, SelfJudgeConfig, UnifiedModel, load_model
from unigap.prompts.base import SuiteConfig, load_prompts
from unigap.store import RunStore
from unigap.training.curriculum import CurriculumConfig
from unigap.training.guard import GuardConfig
from unigap.training.improve import ImproveConfig, improve


class RunConfig(Config):
    """configs/run_tiny.yaml (the default of `unigap run`)."""

    model: ModelConfig = ModelConfig()
    seed: int = 0
    n: int = 10  # candidates per train prompt
    train_prompts: SuiteConfig = SuiteConfig(split="train", per_subtask=40)
    eval_prompts: SuiteConfig = SuiteConfig(split="eval", per_subtask=20)
    eval_n: int = 4  # candidates per eval prompt (for each of base and improved)
    sampling: SamplingConfig | None = None
    self_judge: SelfJudgeConfig = SelfJudgeConfig()
    judges: list[JudgeConfig] = [JudgeConfig(name="oracle")]
    # all_accepted: with the shipped model, mixed_only's one image per mixed prompt is right only 41 % of
    # the time by the oracle (the guard stops it); all accepted images, 55 % (README, "Self-improvement").
    curate: CurateConfig = CurateConfig(rule="all_accepted")
    improve: ImproveConfig = ImproveConfig(epochs=8, batch_size=32, lr=3e-4, curriculum=CurriculumConfig(mode="fixed", epoch=4),
                                           guard=GuardConfig(judge="oracle"))
    batch_size: int = 64
    n_boot: int = 1000
    report: bool = True  # end with `unigap analyse` + `unigap report`
    force: bool = False  # train even if the data-quality guard fails (the co-degradation experiment)


Log = Callable[[str], None]


def audit_cfg(cfg: RunConfig, n: int) -> AuditConfig:
    return AuditConfig(model=cfg.model, n=n, seed=cfg.seed, sampling=cfg.sampling, self_judge=cfg.self_judge,
                       judges=cfg.judges, batch_size=cfg.batch_size, n_boot=cfg.n_boot)


class Stages:
    """Runs each named stage once, recording status and wall time in the store."""

    def __init__(self, store: RunStore, log: Log) -> None:
        self.store, self.log, self.times = store, log, {}

    def __call__(self, name: str, fn: Callable[[], object]) -> None:
        done = self.store.stage(name)
        if done and done["status"] == "done":
            self.times[name] = (done["info"] or {}).get("seconds", 0.0)
            return
        self.store.set_stage(name, "running")
        t0 = time.time()
        info = fn() or {}
        self.times[name] = round(time.time() - t0, 2)
        self.store.set_stage(name, "done", {**info, "seconds": self.times[name]} if isinstance(info, dict) else {})
        self.log(f"stage {name}: {self.times[name]:.1f} s")


def run_loop(cfg: RunConfig, run_dir: str | Path, bar: Bar | None = None, log: Log = print) -> dict:
    bar, run_dir = bar or NoBar(), Path(run_dir)
    with RunStore.open(run_dir) as store:
        store.init_config(cfg.model_dump(mode="json"))
        train, evals = load_prompts(cfg.train_prompts), load_prompts(cfg.eval_prompts)
        base = load_model(cfg.model)
        record_provenance(store, cfg.seed, base)
        stage = Stages(store, log)
        stage("audit_train", lambda: {"failures": audit_into(store, audit_cfg(cfg, cfg.n), train, base, bar)})
        stage("curate", lambda: write_curation(run_dir, run_dir / "data", cfg.curate)["totals"])
        improve_cfg = cfg.improve.model_copy(update={"model": cfg.model})
        stage("improve", lambda: {"replays": improve(improve_cfg, run_dir / "data", run_dir / "improve", cfg.force, log=log)["replays"]})
        improved = load_model(cfg.model.model_copy(update={"path": str(run_dir / "improve" / "model")}))
        stage("audit_eval_base", lambda: {"failures": audit_into(store, audit_cfg(cfg, cfg.eval_n), evals, base, bar, "base")})
        stage("audit_eval_improved",
              lambda: {"failures": audit_into(store, audit_cfg(cfg, cfg.eval_n), evals, improved, bar, "improved")})
        ids = {p.id for p in evals}
        stage("winrate", lambda: {"failures": judge_stage(store, "model:improved", self_judge_fn(improved, cfg.self_judge),
                                                          "base", cfg.batch_size, bar, ids)})
        results = {"before": metrics_for(store, "base", ids, cfg.n_boot, cfg.seed),
                   "after": metrics_for(store, "improved", ids, cfg.n_boot, cfg.seed), "stage_seconds": stage.times}
        (run_dir / "results.json").write_text(json.dumps(results, indent=2))
    if cfg.report:
        from unigap.pipeline.analyse import analyse
        from unigap.report.render import render_report

        t0 = time.time()
        analyse(run_dir, cfg.n_boot, cfg.seed)
        results["report"] = str(render_report(run_dir))
        results["stage_seconds"]["analyse+report"] = round(time.time() - t0, 2)
    return results



