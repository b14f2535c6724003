"""`unigap improve`: one trainer, registered objectives (sft, dpo, grpo, plugins), anchors against judge drift.

Backend-agnostic: the loop only uses the `UnifiedModel` protocol (image_logprobs, components,
generate/judge, save) plus optional backend hooks (`apply_lora`, `enable_gradient_checkpointing`,
`image_token_logprobs`, `answer_logprobs`, `score_probs`, `save(..., merge_lora=, state_dict=)`).

  training/config.py      ImproveConfig: the loop's options, grpo:, anchor:, monitor:
  training/objectives/    the registry; sft and dpo (offline, curated data), grpo (online)
  training/trainer.py     accelerate, the loss module DDP/FSDP wrap, freezing / LoRA, the optimizer
  training/loop.py        epochs of optimizer steps, hooks (anchors, curriculum replay), commits
  training/checkpoint.py  the commits (training/commit.py's protocol): epochs/NNNNNN, LATEST, model, train.json,
                          steps.csv; resume
  training/anchor.py      judge-KL and understanding-replay anchors
  training/rewards.py     grpo rewards (self, self-frozen, dual, any judge)
  curation/guard.py       the data-quality guard (offline objectives, before training)
Everything is checked before anything is written; a killed run resumes from the last commit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unigap.curation.dataset import CuratedData, load_curated
from unigap.curation.guard import run_guard
from unigap.errors import DataError, UnigapError
from unigap.models.base import UnifiedModel, load_model
from unigap.records import Prompt
from unigap.training.anchor import Anchors
from unigap.training.checkpoint import RESUME_MAY_DIFFER, State, checkpoints, load_optimizer, publish, resume_checks
from unigap.training.commit import check_same_config, set_rng_state
from unigap.training.config import EVAL_SPLITS, ImproveConfig, LoraSettings  # noqa: F401  (the public names)
from unigap.training.loop import Context, run_epochs
from unigap.training.objectives.base import Objective, load_objective
from unigap.training.trainer import Trainer, freeze, is_fsdp, make_accelerator, on_main, prepare  # noqa: F401

Log = Callable[[str], None]


def check_data(
    data: CuratedData, cfg: ImproveConfig, data_dir: Path, objective: Objective, allow_partial: bool = False
) -> None:
    if data.manifest.get("partial") and not allow_partial:
        raise DataError(
            f"{data_dir}: curated from an audit that did not finish ({data.manifest['partial']}); finish "
            "the audit and curate again, or pass --allow-partial to train on it"
        )
    objective.check_data(data, data_dir)
    splits = set(data.manifest.get("splits", []))
    if splits & EVAL_SPLITS and not cfg.allow_eval_prompts:
        raise DataError(
            f"{data_dir}: curated from {sorted(splits & EVAL_SPLITS)} prompts; training refuses "
            "evaluation prompts (audit the train split, or set allow_eval_prompts: true)"
        )


def check_compatible(data: CuratedData, model: UnifiedModel, data_dir: Path, ignore: tuple[str, ...] = ()) -> None:
    """The data's model fingerprint must match the model's (`ignore`: keys a resumed checkpoint changes)."""
    want = data.manifest.get("fingerprint")
    have = {k: v for k, v in model.fingerprint().items() if k not in ignore}
    if want and {k: want.get(k) for k in have} != have:
        raise DataError(f"{data_dir}: data was made by model {want}, incompatible with the model being trained {have}")


def check_improve_config(cfg: ImproveConfig, where: str = "improve") -> None:
    """What can be checked before any data or model is loaded: the objective and its options, the
    guard's and the monitor's judges, the rewards, the understanding set, the distributed setup."""
    from unigap.judges.base import JUDGES, judge_options
    from unigap.training.rewards import validate_rewards

    load_objective(cfg)
    if cfg.guard.judge is not None:
        JUDGES.validate_options(cfg.guard.judge, cfg.guard.options, f"{where}.guard.options")
    if cfg.monitor is not None:
        judge_options(cfg.monitor, f"{where}.monitor")
    if cfg.method == "grpo":
        validate_rewards(cfg.grpo.rewards, f"{where}.grpo.rewards")
    Anchors.check(cfg.anchor)


def check_improve_prompts(cfg: ImproveConfig, prompts: list[Prompt], where: str = "improve") -> None:
    """GRPO's external reward judges must be able to score the prompts it samples for."""
    if cfg.method == "grpo":
        from unigap.training.rewards import check_reward_prompts

        check_reward_prompts(cfg.grpo.rewards, prompts, f"{where}.grpo.rewards")


def check_trainable(model: UnifiedModel) -> None:
    """A backend that declares `trainable = False` (served, or a plugin's) cannot be trained: say so first."""
    if getattr(model, "trainable", True) is False:
        raise UnigapError(
            f"improve: the {model.name!r} backend declares trainable = False (no weights unigap can "
            "train); self-improve a backend that loads its weights (e.g. janus, showo, emu3, tiny)"
        )


def check_model(cfg: ImproveConfig, objective: Objective, model: UnifiedModel) -> None:
    check_trainable(model)
    objective.check_model(model)
    Anchors.check(cfg.anchor, model)


def check_setup(cfg: ImproveConfig, accelerator: Any) -> None:
    if is_fsdp(accelerator) and cfg.lora is not None:
        raise UnigapError(
            "lora with FSDP is not supported (saving merges LoRA from unsharded layers); "
            "LoRA fits one GPU per process: use DDP (configs/accelerate/ddp.yaml)"
        )
    if is_fsdp(accelerator) and accelerator.state.fsdp_plugin.fsdp_version != 1:
        # `prepare` uses accelerator.prepare_model, which accelerate refuses for FSDP2 ("FSDP2
        # preparation should be done via `accelerate.prepare()`, as it requires a model and an optimizer").
        raise UnigapError(
            "improve runs FSDP version 1 (fsdp_version: 1 in the accelerate config, as in "
            "configs/accelerate/fsdp.yaml); FSDP2 is not supported yet"
        )
    if is_fsdp(accelerator) and cfg.method == "grpo":
        raise UnigapError(
            "grpo with FSDP is not supported (the backends' decode loops cannot sample from sharded "
            "layers every step); use DDP, or one GPU with LoRA"
        )


def load_for_training(cfg: ImproveConfig, out: Path, st: State | None, accelerator: Any) -> UnifiedModel:
    """The model to train: the base model, or on resume the last checkpoint (LoRA runs: the base
    model, their adapters come from state.pt). Several processes: each on its accelerator device."""
    update: dict[str, Any] = {}
    if st is not None and cfg.lora is None:
        update["path"] = str(checkpoints(out).latest() / "model")
    if accelerator.num_processes > 1:
        update["device"] = str(accelerator.device)
    return load_model(cfg.model.model_copy(update=update) if update else cfg.model)


def check_data_and_out(
    cfg: ImproveConfig, data_dir: Path, out: Path, allow_partial: bool = False
) -> tuple[CuratedData, Objective]:
    """The out dir is not a file, the config is sound, the curated data loads, is complete and fits the method."""
    if out.exists() and not out.is_dir():
        raise UnigapError(f"--out {out} is a file, not a checkpoint directory; choose another --out")
    check_improve_config(cfg)
    objective = load_objective(cfg)
    data = load_curated(data_dir)
    check_data(data, cfg, data_dir, objective, allow_partial)
    if cfg.method == "grpo":
        from unigap.training.objectives.grpo import train_prompts

        check_improve_prompts(cfg, train_prompts(data, data_dir))
    return data, objective


def check_improve_inputs(
    cfg: ImproveConfig, data_dir: str | Path, out: str | Path, allow_partial: bool = False
) -> None:
    """Everything `improve` checks before it writes: the out dir (and a checkpoint there), the data, the judges,
    the model and their match."""
    data, objective = check_data_and_out(cfg, Path(data_dir), Path(out), allow_partial)
    st = State.load(Path(out))
    if st is not None:
        check_same_config(st.config, cfg.model_dump(mode="json"), Path(out), RESUME_MAY_DIFFER, type(cfg))
    model = load_model(cfg.model)
    check_model(cfg, objective, model)
    check_compatible(data, model, Path(data_dir))


def start_state(ctx: Context, accelerator: Any, force: bool) -> None:
    """A fresh run: the rows to train on, the guard (offline objectives), the objective's and anchors' references."""
    cfg, obj = ctx.cfg, ctx.objective
    ctx.st = State(obj.examples(ctx.data), list(ctx.data.discard) if obj.offline else [])
    if obj.offline:
        ctx.st.history["guard"] = on_main(
            accelerator, lambda: run_guard(cfg.guard, ctx.data, ctx.data_dir, force, ctx.log)
        )
    else:
        if cfg.guard.judge is not None:
            ctx.log(f"guard: not run ({cfg.method} trains on its own samples, not on the curated data)")
        if cfg.curriculum.mode != "none":
            ctx.log(f"curriculum: not used by {cfg.method} (it samples from the current model at every step)")
    obj.start(ctx)
    if ctx.anchors is not None:
        ctx.anchors.start(ctx.model, ctx.data, ctx.st)


def loss_fn(objective: Objective, anchors: Anchors | None) -> Callable:
    if anchors is None:
        return objective.loss

    def fn(model: UnifiedModel, micro: Any) -> torch.Tensor:
        extra = anchors.loss(model, micro)
        loss = objective.loss(model, micro)
        return loss if extra is None else loss + extra

    return fn


def improve(
    cfg: ImproveConfig,
    data_dir: str | Path,
    out: str | Path,
    force: bool = False,
    log: Log = print,
    on_batch: Callable[[int], None] | None = None,
    progress: Any = None,
    allow_partial: bool = False,
) -> dict:
    """Train (or resume) and return the history; the improved model is written to out/model."""
    data_dir, out = Path(data_dir), Path(out)
    data, objective = check_data_and_out(cfg, data_dir, out, allow_partial)
    accelerator = make_accelerator(cfg)
    check_setup(cfg, accelerator)
    log = log if accelerator.is_main_process else (lambda _: None)
    st = State.load(out)
    resume_checks(st, cfg, out, log)
    model = load_for_training(cfg, out, st, accelerator)
    check_model(cfg, objective, model)
    check_compatible(data, model, data_dir, ignore=("path",) if st is not None and cfg.lora is None else ())
    if accelerator.is_main_process:  # everything checked: only now is anything written
        out.mkdir(parents=True, exist_ok=True)
        checkpoints(out).clean()  # what a killed process left uncommitted
    accelerator.wait_for_everyone()
    anchors = Anchors(cfg.anchor, cfg.seed) if cfg.anchor.active else None
    ctx = Context(
        cfg, objective, data, data_dir, out, model, st, log, anchors=anchors, progress=progress, on_batch=on_batch
    )
    if st is None:
        start_state(ctx, accelerator, force)
    ctx.run = prepare(model, cfg, ctx.st.adapter, accelerator, loss_fn(objective, anchors), log)
    load_optimizer(ctx.run, ctx.st, out)
    objective.resume(ctx)
    if anchors is not None:
        anchors.resume(model, ctx.st)
    set_rng_state(ctx.st.rng)  # a resume continues the RNG streams of the last commit
    run_epochs(ctx)
    objective.finish(ctx)
    if ctx.run.main:  # a process killed between the commit and the link left them behind
        if cfg.monitor is not None and "exploitation" not in ctx.st.history:
            ctx.st.history["exploitation"] = exploitation(ctx)  # measured, not trained: in train.json only
        publish(out, ctx.st.history)
    return ctx.st.history


def exploitation(ctx: Context, n: int = 64) -> dict:
    """The trained self-judge's agreement with the monitor on base images vs on its own new images
    (same train prompts): a drop means the generator moved into the judge's blind spots."""
    from unigap.judges.base import load_judge
    from unigap.models.base import default_sampling
    from unigap.records import candidate_seed
    from unigap.training.anchor import reference_rows
    from unigap.training.objectives.grpo import train_prompts

    cfg, model = ctx.cfg, ctx.run.model if ctx.run is not None else ctx.model
    by_text = {p.text: p for p in train_prompts(ctx.data, ctx.data_dir)}
    rows = [(t, by_text[p]) for t, p in reference_rows(ctx.data, n, cfg.seed) if p in by_text]
    if not rows:
        return {"missing": "no base images of train prompts in the curated data"}
    judge, prompts = load_judge(cfg.monitor, "improve.monitor"), [p for _, p in rows]
    base = model.decode(torch.tensor([t for t, _ in rows], dtype=torch.long))
    seeds = [candidate_seed(cfg.seed, f"{p.id}@exploitation", 0) for p in prompts]
    own = model.generate([p.text for p in prompts], seeds, cfg.sampling or default_sampling(model)).images
    out: dict[str, Any] = {"judge": judge.name, "n": len(rows)}
    for name, images in (("base", base), ("own", own)):
        out[name], out[f"{name}_truth_rate"] = agreement(model, judge, images, prompts, cfg)
    out["drop"] = None if None in (out["base"], out["own"]) else out["base"] - out["own"]
    if out["drop"] is not None:
        ctx.log(
            f"exploitation ({judge.name} as truth): self-judge accuracy {out['base']:.3f} on base images, "
            f"{out['own']:.3f} on its own new images"
        )
    return out


def agreement(
    model: UnifiedModel, judge: Any, images: torch.Tensor, prompts: list[Prompt], cfg: ImproveConfig
) -> tuple[float | None, float | None]:
    """(share of images where the self-judge's verdict equals the judge's, share the judge accepts)."""
    mine = [j.verdict for j in model.judge(images, [p.text for p in prompts], cfg.self_judge)]
    truth = [j.verdict for j in judge.judge(images, prompts)]
    pairs = [(a, b) for a, b in zip(mine, truth) if a is not None and b is not None]
    if not pairs:
        return None, None
    return float(np.mean([a == b for a, b in pairs])), float(np.mean([b for _, b in pairs]))
