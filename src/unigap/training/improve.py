"""`unigap improve`: SFT or DPO(+NLL) on curated image tokens, with curriculum replay.

Backend-agnostic: the loop only uses the `UnifiedModel` protocol (image_logprobs, components,
generate/judge for the curriculum, save) plus optional backend hooks (`apply_lora`,
`enable_gradient_checkpointing`, `save(..., merge_lora=, state_dict=)`). Trainable components
come from config (`llm` = the shared trunk, the paper's default); everything else is frozen.
With `lora:` only the LoRA adapters train.

`accelerate` does device placement, mixed precision (bf16 autocast), and multi-process training
(`accelerate launch` / `torchrun`: DDP, or FSDP from an accelerate config). `batch_size` is the
number of rows per micro-batch summed over all processes (each process takes every
world_size-th row of it) and an optimizer step averages the gradient over `grad_accum`
micro-batches, so a config trains the same model on 1 or N processes (up to float rounding).

CKPT_DIR/ (the commit protocol is unigap.training.commit)
  LATEST            the commit point: names the last complete epoch dir
  epochs/000003/    one committed epoch, written whole before LATEST names it:
    model/          the weights after that epoch (a checkpoint the backend loads; LoRA merged by default)
    state.pt        optimizer state, epoch, the (growing) training data, discard pool, history,
                    RNG states, the config, the LoRA adapter weights (LoRA runs resume from the base
                    model + these)
    optimizer.rank*.pt  FSDP only: each process's optimizer shard (resume with as many processes)
  model             -> epochs/<latest>/model (a relative symlink)
  train.json        history: losses per epoch, curriculum replays, guard result
A killed run (kill -9 included, during the curriculum replay too) resumes from the last committed
epoch and ends with the same weights, data and history as an uninterrupted one: shuffles are seeded
by (seed, epoch), and the weights, optimizer and RNG states of an epoch are committed together.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from unigap.config import Config, seed_field
from unigap.curation.dataset import CuratedData, load_curated
from unigap.errors import DataError, UnigapError
from unigap.models.base import ModelConfig, SamplingConfig, SelfJudgeConfig, UnifiedModel, default_sampling, load_model, supports
from unigap.faults import point
from unigap.store.files import write_json
from unigap.training.commit import CommitDir, check_same_config, rng_state, seed_all, set_rng_state, step_name
from unigap.training.curriculum import CurriculumConfig, ReplaySettings, probe_acceptance, replay, should_replay
from unigap.training.guard import GuardConfig, run_guard
from unigap.training.losses import dpo_loss, sft_loss
from unigap.verdict import ANSWER_PREFIX, question

EVAL_SPLITS = {"eval", "val", "test"}


class LoraSettings(Config):
    """`lora:` section (PEFT LoRA on the backend's language model)."""

    r: int = Field(16, ge=1)
    alpha: float = Field(32, gt=0)
    target_modules: list[str] = ["q_proj", "k_proj", "v_proj", "o_proj"]
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


class ImproveConfig(Config):
    """configs/sft_tiny.yaml, configs/dpo_tiny.yaml, configs/sft_janus_pro_7b.yaml."""

    method: Literal["sft", "dpo"] = "sft"
    model: ModelConfig = ModelConfig()
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(16, ge=1)  # rows per micro-batch, summed over all processes
    grad_accum: int = Field(1, ge=1)  # micro-batches per optimizer step
    lr: float = Field(1e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    grad_clip: float = Field(1.0, gt=0)
    beta: float = Field(0.1, gt=0)  # DPO
    nll_weight: float = Field(1.0, ge=0)  # DPO: weight of the NLL on chosen images (stabilises DPO, paper §3.2)
    # Weight of an understanding loss teaching the self-judge the curated verdicts (the paper's
    # question, "The score is 1." for accepted/chosen images, "0." for rejected ones). 0 = the
    # paper's recipe: only image tokens are trained, understanding moves through the shared trunk.
    und_weight: float = Field(0.0, ge=0.0)
    trainable: list[str] = ["llm"]
    lora: LoraSettings | None = None  # None = train the `trainable` components themselves
    merge_lora_on_save: bool = True  # model/ holds base + LoRA merged (loads with plain from_pretrained)
    mixed_precision: Literal["no", "bf16"] = "no"  # bf16 = autocast around the loss (weights stay in model.dtype)
    gradient_checkpointing: bool = False  # backends with enable_gradient_checkpointing() (janus)
    seed: int = seed_field()
    sampling: SamplingConfig | None = None  # curriculum regeneration; None = the model's default
    self_judge: SelfJudgeConfig = SelfJudgeConfig()
    curriculum: CurriculumConfig = CurriculumConfig()
    guard: GuardConfig = GuardConfig()
    allow_eval_prompts: bool = False

    @model_validator(mode="after")
    def _curriculum_within_epochs(self) -> "ImproveConfig":
        if self.curriculum.mode == "fixed" and self.curriculum.epoch > self.epochs:
            raise ValueError(f"curriculum.epoch ({self.curriculum.epoch}) must be <= epochs ({self.epochs})")
        return self


Log = Callable[[str], None]


def check_data(data: CuratedData, cfg: ImproveConfig, data_dir: Path, allow_partial: bool = False) -> None:
    if data.manifest.get("partial") and not allow_partial:
        raise DataError(f"{data_dir}: curated from an audit that did not finish ({data.manifest['partial']}); finish "
                        "the audit and curate again, or pass --allow-partial to train on it")
    n = len(data.sft) if cfg.method == "sft" else len(data.pairs)
    if n == 0:
        raise DataError(f"{data_dir}: no {'accepted images' if cfg.method == 'sft' else 'chosen/rejected pairs'} to "
                        f"train on (discard pool: {len(data.discard)} prompts). Try more candidates per prompt (n=), "
                        "rule all_accepted, a higher sampling temperature, or selector oracle.")
    splits = set(data.manifest.get("splits", []))
    if splits & EVAL_SPLITS and not cfg.allow_eval_prompts:
        raise DataError(f"{data_dir}: curated from {sorted(splits & EVAL_SPLITS)} prompts; training refuses "
                        "evaluation prompts (audit the train split, or set allow_eval_prompts: true)")


def check_compatible(data: CuratedData, model: UnifiedModel, data_dir: Path, ignore: tuple[str, ...] = ()) -> None:
    """The data's model fingerprint must match the model's (`ignore`: keys a resumed checkpoint changes)."""
    want = data.manifest.get("fingerprint")
    have = {k: v for k, v in model.fingerprint().items() if k not in ignore}
    if want and {k: want.get(k) for k in have} != have:
        raise DataError(f"{data_dir}: data was made by model {want}, incompatible with the model being trained {have}")


def freeze(model: UnifiedModel, trainable: list[str]) -> list[torch.nn.Parameter]:
    groups = model.components()
    unknown = [t for t in trainable if t not in groups and t != "all"]
    if unknown:
        raise UnigapError(f"unknown trainable component(s) {unknown}; valid: all, {', '.join(groups)}")
    for p in model.module().parameters():
        p.requires_grad_("all" in trainable)
    params = list(model.module().parameters()) if "all" in trainable else [p for t in trainable for p in groups[t]]
    for p in params:
        p.requires_grad_(True)
    return params


def lora_params(model: UnifiedModel, cfg: ImproveConfig) -> list[torch.nn.Parameter]:
    """Inject LoRA (the backend's `apply_lora`); only the adapters train."""
    if not supports(model, "apply_lora"):
        raise UnigapError(f"lora: the {model.name!r} backend has no LoRA support; remove the lora: section")
    if set(cfg.trainable) - {"llm", "lora"}:
        raise UnigapError(f"lora: only the LoRA adapters (on the language model) train, but trainable is "
                          f"{cfg.trainable}; use trainable: [llm] with lora, or drop lora: to train {cfg.trainable}")
    return model.apply_lora(**cfg.lora.model_dump())  # type: ignore[attr-defined]


def examples_of(data: CuratedData, method: str) -> list[dict]:
    return data.sft if method == "sft" else data.pairs


def tokens(rows: list[dict], key: str) -> torch.Tensor:
    return torch.tensor([r[key] for r in rows], dtype=torch.long)


def reference_logps(model: UnifiedModel, pairs: list[dict], batch: int) -> dict[str, torch.Tensor]:
    """log pi_ref of every pair's chosen and rejected image, computed once before training (kept on the CPU)."""
    out: dict[str, list[torch.Tensor]] = {"chosen": [], "rejected": []}
    with torch.no_grad():
        for i in range(0, len(pairs), batch):
            rows = pairs[i : i + batch]
            texts = [r["prompt"] for r in rows]
            out["chosen"].append(model.image_logprobs(texts, tokens(rows, "chosen_tokens")).float().cpu())
            out["rejected"].append(model.image_logprobs(texts, tokens(rows, "rejected_tokens")).float().cpu())
    return {k: torch.cat(v) if v else torch.zeros(0) for k, v in out.items()}


def batch_loss(model: UnifiedModel, rows: list[dict], cfg: ImproveConfig, ref: dict[str, torch.Tensor] | None,
               idx: list[int]) -> torch.Tensor:
    texts, m = [r["prompt"] for r in rows], model.num_image_tokens
    if cfg.method == "sft" and supports(model, "image_loss"):  # the backend's own objective (Show-o: masked tokens)
        loss = model.image_loss(texts, tokens(rows, "tokens"))  # type: ignore[attr-defined]
    elif cfg.method == "sft":
        loss = sft_loss(model.image_logprobs(texts, tokens(rows, "tokens")), m)
    else:
        pc = model.image_logprobs(texts, tokens(rows, "chosen_tokens"))
        pr = model.image_logprobs(texts, tokens(rows, "rejected_tokens"))
        loss = dpo_loss(pc, pr, ref["chosen"][idx].to(pc.device), ref["rejected"][idx].to(pc.device), cfg.beta)
        loss = loss + cfg.nll_weight * sft_loss(pc, m)
    return loss + cfg.und_weight * verdict_loss(model, rows, cfg.method) if cfg.und_weight else loss


def verdict_rows(rows: list[dict], method: str) -> tuple[torch.Tensor, list[str], list[int]]:
    """(image tokens (N, M), prompts, curated verdicts): SFT rows are accepted images; a DPO row
    gives its chosen (1) and its rejected (0) image."""
    if method == "sft":
        return tokens(rows, "tokens"), [r["prompt"] for r in rows], [1] * len(rows)
    toks = torch.cat([tokens(rows, "chosen_tokens"), tokens(rows, "rejected_tokens")])
    return toks, [r["prompt"] for r in rows] * 2, [1] * len(rows) + [0] * len(rows)


def verdict_loss(model: UnifiedModel, rows: list[dict], method: str) -> torch.Tensor:
    """Mean NLL of the paper's answer "The score is v." to the paper's question, per image."""
    toks, prompts, verdicts = verdict_rows(rows, method)
    images = model.decode(toks)  # (N, H, W, 3): answer_logprobs takes images, as the self-judge sees them
    answers = [f"{ANSWER_PREFIX} {v}." for v in verdicts]
    return -model.answer_logprobs(images, [question(p) for p in prompts], answers).mean()


class LossModule(torch.nn.Module):
    """What accelerate prepares (and DDP / FSDP wrap): forward(rows, idx, ref) = this process's batch loss.

    Gradient sync across processes: the backends compute log-probs by calling their own module's
    submodules, never a top-level forward, so wrapping the backend's module in DDP would never
    see a forward and never sync. This wrapper *holds* the backend's module (the very same
    parameter objects the backend uses) and runs the whole loss inside its forward. DDP hooks
    the wrapper's forward and the parameters' gradients, so backward all-reduces (averages)
    the gradients over the processes, overlapped with the backward pass, exactly as for any
    DDP model. find_unused_parameters=True, because a trainable group may hold parameters the
    image loss never touches (e.g. "all" includes the text head). Under FSDP the wrapper is the
    root unit (its forward unshards the root's parameters); the decoder layers are the inner units.
    """

    def __init__(self, model: UnifiedModel, cfg: ImproveConfig) -> None:
        super().__init__()
        self.inner = model.module()
        self.backend, self.cfg = model, cfg  # not Modules: plain attributes

    def forward(self, rows: list[dict], idx: list[int], ref: dict[str, torch.Tensor] | None) -> torch.Tensor:
        if not rows:
            # This process got no rows of a short last batch: a zero loss that touches every
            # trainable parameter, so it still joins the gradient all-reduce (with zeros).
            return sum(p.sum() * 0.0 for p in self.parameters() if p.requires_grad)
        return batch_loss(self.backend, rows, self.cfg, ref, idx)


@dataclass
class Trainer:
    """The prepared training objects and this process's place among the processes."""

    accelerator: Any
    model: UnifiedModel
    prepared: torch.nn.Module
    opt: torch.optim.Optimizer
    params: list[torch.nn.Parameter]

    @property
    def rank(self) -> int:
        return self.accelerator.process_index

    @property
    def world(self) -> int:
        return self.accelerator.num_processes

    @property
    def main(self) -> bool:
        return self.accelerator.is_main_process

    @property
    def fsdp(self) -> bool:
        return _is_fsdp(self.accelerator)

    def sync(self, last: bool) -> contextlib.AbstractContextManager:
        """DDP: skip the all-reduce on all but the last micro-batch of an accumulation window (the
        synced backward then reduces the accumulated gradients). FSDP syncs every micro-batch
        (its no_sync would keep whole unsharded gradients)."""
        if last or self.world == 1 or self.fsdp:
            return contextlib.nullcontext()
        return self.accelerator.no_sync(self.prepared)

    def global_loss(self, loss: torch.Tensor, n_local: int, n_global: int) -> float:
        """The batch's mean loss over all processes' rows (one process: the loss itself)."""
        if self.world == 1:
            return loss.item()
        part = loss.detach().float() * (n_local / n_global)
        return float(self.accelerator.reduce(part, reduction="sum").item())

    def clip(self, max_norm: float) -> None:
        params = list(self.prepared.parameters()) if self.fsdp else self.params
        self.accelerator.clip_grad_norm_(params, max_norm)


def _is_fsdp(accelerator: Any) -> bool:
    return str(accelerator.distributed_type).endswith("FSDP")


class State:
    """Everything needed to resume: epoch, data (with curriculum additions), pool, history, RNG states."""

    def __init__(self, examples: list[dict], pool: list[dict]) -> None:
        self.epoch, self.examples, self.pool = 0, examples, pool
        self.history: dict = {"epochs": [], "replays": [], "acceptance": [], "guard": None}
        self.optimizer: dict | None = None
        self.ref: dict[str, torch.Tensor] | None = None
        self.adapter: dict[str, torch.Tensor] | None = None  # LoRA runs: the trained adapter weights
        self.world_size: int = 1
        self.rng: dict | None = None  # global RNG states at the commit
        self.config: dict | None = None  # the ImproveConfig the checkpoint was made with

    def save(self, step_dir: Path) -> None:
        """state.pt into an epoch's temp dir (the commit makes it visible)."""
        torch.save(self.__dict__, step_dir / STATE_FILE)

    @classmethod
    def load(cls, out: Path) -> "State | None":
        """The state of the last committed epoch of `out`, or None (nothing committed: a fresh start)."""
        step_dir = checkpoints(out).latest()
        if step_dir is None:
            if (Path(out) / STATE_FILE).exists():
                raise UnigapError(f"{out}: a checkpoint in the layout of an older unigap (state.pt beside model/, "
                                  "which a kill could leave out of step); train into a new --out")
            return None
        s = cls([], [])
        try:
            s.__dict__.update(torch.load(step_dir / STATE_FILE, weights_only=False))
        except (OSError, RuntimeError, EOFError) as err:
            raise UnigapError(f"{step_dir / STATE_FILE}: cannot be read ({err}); the checkpoint dir was "
                              "edited: restore it, or train into a new --out") from None
        return s


STATE_FILE = "state.pt"
RESUME_MAY_DIFFER = ("epochs", "model.batch_size")  # a resume may train longer, or generate in other batches


def checkpoints(out: Path) -> CommitDir:
    return CommitDir(out, "epochs")


def epoch_seed(seed: int, epoch: int) -> int:
    """The global torch RNG seed of an epoch (LoRA dropout): a resumed epoch draws what it drew straight."""
    return int(np.random.default_rng([seed, epoch, 7]).integers(2**62))


def train_epoch(run: Trainer, st: State, cfg: ImproveConfig, on_batch: Callable[[int], None] | None) -> float:
    """One epoch; returns the mean (over micro-batches) of the global batch loss."""
    order = np.random.default_rng([cfg.seed, st.epoch]).permutation(len(st.examples))
    micro = [order[i : i + cfg.batch_size].tolist() for i in range(0, len(order), cfg.batch_size)]
    windows = [micro[i : i + cfg.grad_accum] for i in range(0, len(micro), cfg.grad_accum)]
    torch.manual_seed(epoch_seed(cfg.seed, st.epoch))
    losses = []
    run.prepared.train()
    for window in windows:
        point("improve.step", f"epoch {st.epoch + 1}")
        n_window = sum(len(b) for b in window)
        run.opt.zero_grad(set_to_none=True)
        for k, idx in enumerate(window):
            mine = idx[run.rank :: run.world]  # this process's rows of the micro-batch
            # FSDP: every unit's all-gather / reduce-scatter needs every process, so a process without
            # rows of a short last batch still runs one row through the model (weighted 0 below).
            # DDP: LossModule's zero loss for no rows suffices.
            rows = mine or (idx[:1] if run.fsdp else [])
            with run.sync(last=k == len(window) - 1):
                loss = run.prepared([st.examples[j] for j in rows], rows, st.ref)
                value = run.global_loss(loss, len(mine), len(idx))
                if not math.isfinite(value):
                    raise UnigapError(f"non-finite {cfg.method} loss ({value}) in epoch {st.epoch + 1}; "
                                      "stopped, the last good checkpoint is kept (try a lower lr)")
                # Weight so that the (process-averaged) gradient is the mean over the window's rows.
                weight = len(mine) / n_window * run.world
                run.accelerator.backward(loss if weight == 1.0 else loss * weight)
            losses.append(value)
            if on_batch:
                on_batch(len(idx))
        run.clip(cfg.grad_clip)
        run.opt.step()
    return float(np.mean(losses))


def replay_settings(cfg: ImproveConfig, model: UnifiedModel, data: CuratedData) -> ReplaySettings:
    rule = (data.manifest.get("curate") or {}).get("rule")
    return ReplaySettings(cfg.seed, cfg.sampling or default_sampling(model), cfg.self_judge,
                          all_accepted=rule == "all_accepted")


def curriculum_due(st: State, cfg: ImproveConfig) -> bool:
    """Whether after_epoch will use the model this epoch."""
    cur = cfg.curriculum
    return bool(st.pool) and cur.mode != "none"


def after_epoch(model: UnifiedModel, st: State, cfg: ImproveConfig, settings: ReplaySettings, log: Log) -> None:
    """Curriculum: maybe replay the discard pool with the current model.

    Every process runs it identically (same weights, per-candidate seeds), so all end with the
    same training data; no communication needed.
    """
    cur = cfg.curriculum
    if cur.mode == "adaptive" and st.pool:
        probe = [e for e in st.examples][: cur.probe_prompts]
        st.history["acceptance"].append(probe_acceptance(model, probe, settings, st.epoch))
    if not st.pool or not should_replay(cur, st.epoch, st.history["acceptance"], len(st.history["replays"])):
        return
    r = replay(model, st.pool, cur, st.epoch, settings)
    st.examples += r.sft if cfg.method == "sft" else r.pairs
    if cfg.method == "dpo" and r.pairs:
        extra = reference_logps(model, r.pairs, cfg.batch_size)  # pairs found now: reference = current model
        st.ref = {k: torch.cat([st.ref[k], extra[k]]) for k in st.ref}
    gone = set(r.recovered)
    st.pool = [p for p in st.pool if p["prompt_id"] not in gone]
    st.history["replays"].append(r.summary())
    log(f"curriculum replay after epoch {st.epoch}: {len(r.recovered)} of {r.pool_before} pool prompts recovered, "
        f"{len(r.sft) if cfg.method == 'sft' else len(r.pairs)} examples added")


def make_accelerator(cfg: ImproveConfig) -> Any:
    """accelerate's Accelerator; without accelerate installed, one CPU/GPU process in full precision."""
    from importlib.util import find_spec

    from unigap.training.local import LocalAccelerator, fsdp_requested, launched_distributed

    if fsdp_requested() and cfg.model.device == "cpu":
        # accelerate has no FSDP for CPU processes: its FSDP plugin raises "no available devices"
        # without a GPU, and with one it would quietly run CPU processes as DDP (docs/distributed.md).
        raise UnigapError("FSDP (an accelerate config with distributed_type: FSDP) runs on GPUs: set model.device: "
                          "cuda, or train on CPU processes with DDP (configs/accelerate/ddp.yaml or torchrun)")
    if find_spec("accelerate") is None:
        if launched_distributed() or cfg.mixed_precision != "no":
            from unigap.errors import require

            require("accelerate", "hf", "multi-process training and mixed_precision need it")
        return LocalAccelerator(cfg.model.device)
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState
    from accelerate.utils import DistributedDataParallelKwargs

    # accelerate keeps process-wide state that refuses a second Accelerator with another precision;
    # one process may run several trainings (tests, `unigap run`). The process group is kept.
    AcceleratorState._reset_state()
    GradientState._reset_state()
    return Accelerator(cpu=cfg.model.device == "cpu", mixed_precision=cfg.mixed_precision,
                       kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])


def on_main(accelerator: Any, fn: Callable[[], Any]) -> Any:
    """Run fn on the main process only and hand its result (or its error) to every process."""
    if accelerator.num_processes == 1:
        return fn()
    box: list[Any] = [None]
    if accelerator.is_main_process:
        try:
            box[0] = ("ok", fn())
        except Exception as err:  # noqa: BLE001 - re-raised on every process below
            box[0] = ("error", err)
    torch.distributed.broadcast_object_list(box, src=0)
    status, value = box[0]
    if status == "error":
        raise value
    return value


def check_improve_config(cfg: ImproveConfig, where: str = "improve") -> None:
    """What can be checked before any data or model is loaded: the guard's judge and its options."""
    if cfg.guard.judge is not None:
        from unigap.judges.base import JUDGES

        JUDGES.validate_options(cfg.guard.judge, cfg.guard.options, f"{where}.guard.options")


def check_trainable(model: UnifiedModel) -> None:
    """Backends without weights here (a served model) cannot be trained: say so before anything else."""
    if getattr(model, "trainable", True) is False:
        raise UnigapError(f"improve: the {model.name!r} backend has no weights to train here (a model behind HTTP); "
                          "self-improve a backend that loads the weights (janus, showo, emu3, tiny)")


def check_backend(cfg: ImproveConfig, model: UnifiedModel) -> None:
    if cfg.und_weight and not supports(model, "answer_logprobs"):
        raise UnigapError(f"und_weight: the {model.name!r} backend has no answer_logprobs (teacher-forced "
                          "understanding log-probs); set und_weight: 0")


def check_setup(cfg: ImproveConfig, accelerator: Any) -> None:
    if _is_fsdp(accelerator) and cfg.lora is not None:
        raise UnigapError("lora with FSDP is not supported (saving merges LoRA from unsharded layers); "
                          "LoRA fits one GPU per process: use DDP (configs/accelerate/ddp.yaml)")
    if _is_fsdp(accelerator) and accelerator.state.fsdp_plugin.fsdp_version != 1:
        # `prepare` uses accelerator.prepare_model, which accelerate refuses for FSDP2 ("FSDP2
        # preparation should be done via `accelerate.prepare()`, as it requires a model and an optimizer").
        raise UnigapError("improve runs FSDP version 1 (fsdp_version: 1 in the accelerate config, as in "
                          "configs/accelerate/fsdp.yaml); FSDP2 is not supported yet")


def load_for_training(cfg: ImproveConfig, out: Path, st: State | None, accelerator: Any) -> UnifiedModel:
    """The model to train: the base model, or on resume the last checkpoint (LoRA runs: the base
    model, their adapters come from state.pt). Several processes: each on its accelerator device."""
    update: dict[str, Any] = {}
    if st is not None and cfg.lora is None:
        update["path"] = str(checkpoints(out).latest() / "model")
    if accelerator.num_processes > 1:
        update["device"] = str(accelerator.device)
    return load_model(cfg.model.model_copy(update=update) if update else cfg.model)


def prepare(model: UnifiedModel, cfg: ImproveConfig, st: State, accelerator: Any, log: Log) -> Trainer:
    seed_all(cfg.seed)
    params = freeze(model, cfg.trainable) if cfg.lora is None else lora_params(model, cfg)
    if st.adapter is not None:
        missing = set(st.adapter) - {n for n, _ in model.module().named_parameters()}
        if missing:
            raise UnigapError(f"resume: the saved LoRA adapter has weights the model lacks: {sorted(missing)[:5]}")
        model.module().load_state_dict(st.adapter, strict=False)
    if cfg.gradient_checkpointing:
        if not supports(model, "enable_gradient_checkpointing"):
            log(f"gradient_checkpointing: the {model.name!r} backend does not support it; training without")
        else:
            model.enable_gradient_checkpointing()  # type: ignore[attr-defined]
    prepared = accelerator.prepare_model(LossModule(model, cfg), device_placement=False)
    if _is_fsdp(accelerator):  # FSDP re-registers the parameters: optimise what it holds
        params = [p for p in prepared.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return Trainer(accelerator, model, prepared, opt, params)


# ---- the checkpoint of an epoch (commit protocol: unigap.training.commit) ---------------------

def _optimizer_file(run: Trainer, step_dir: Path) -> Path:
    """FSDP: this process's optimizer shard in an epoch's dir."""
    return step_dir / f"optimizer.rank{run.rank}.pt"


def load_optimizer(run: Trainer, st: State, out: Path) -> None:
    if st.epoch == 0:
        return
    if st.world_size != run.world and run.fsdp:
        raise UnigapError(f"{out}: this FSDP run was saved by {st.world_size} processes; resume it with "
                          f"{st.world_size} (now {run.world})")
    if run.fsdp:
        run.opt.load_state_dict(torch.load(_optimizer_file(run, checkpoints(out).latest()), weights_only=False))
    elif st.optimizer:
        run.opt.load_state_dict(st.optimizer)


def save_weights(run: Trainer, cfg: ImproveConfig, step_dir: Path) -> None:
    """step_dir/model on the main process (FSDP: gathered from the shards first, by every process)."""
    kwargs: dict[str, Any] = {}
    if cfg.lora is not None:
        kwargs["merge_lora"] = cfg.merge_lora_on_save
    if run.fsdp:
        full = run.accelerator.get_state_dict(run.prepared)  # collective; the full state dict on the main process
        kwargs["state_dict"] = {k.removeprefix("inner."): v for k, v in full.items()}
    if run.main:
        run.model.save(step_dir / "model", **kwargs)
    run.accelerator.wait_for_everyone()
    point("improve.weights", str(step_dir))


def save_state(run: Trainer, st: State, cfg: ImproveConfig, step_dir: Path) -> None:
    """The optimizer (FSDP: each process's shard), adapters, RNG states and state.pt into the epoch's dir."""
    st.world_size, st.rng, st.config = run.world, rng_state(), cfg.model_dump(mode="json")
    if cfg.lora is not None:
        st.adapter = {n: p.detach().cpu().clone() for n, p in run.model.module().named_parameters() if p.requires_grad}
    if run.fsdp:
        torch.save(run.opt.state_dict(), _optimizer_file(run, step_dir))
    else:
        st.optimizer = run.opt.state_dict()
    if run.main:
        st.save(step_dir)
    run.accelerator.wait_for_everyone()


def begin_epoch(run: Trainer, out: Path, epoch: int) -> Path:
    """The empty temp dir epoch `epoch` is written into (made by the main process)."""
    step_dir = checkpoints(out).steps / f".{step_name(epoch)}.tmp"
    if run.main:
        checkpoints(out).begin(epoch)
    run.accelerator.wait_for_everyone()
    return step_dir


def commit_epoch(run: Trainer, st: State, out: Path) -> None:
    """Make the written epoch the one a resume starts from: rename, LATEST, model symlink, train.json."""
    if run.main:
        checkpoints(out).commit(st.epoch)
        publish(out, st.history)
    run.accelerator.wait_for_everyone()


def publish(out: Path, history: dict) -> None:
    """OUT/model -> the committed weights, OUT/train.json = the committed history (idempotent)."""
    checkpoints(out).link("model", "model")
    write_json(out / "train.json", history)


def checkpoint_epoch(run: Trainer, st: State, cfg: ImproveConfig, out: Path, settings: ReplaySettings,
                     log: Log) -> None:
    """Weights, then the curriculum replay (it may use them), then state: all in the epoch's temp dir; then commit."""
    step_dir = begin_epoch(run, out, st.epoch)
    save_weights(run, cfg, step_dir)
    if curriculum_due(st, cfg):
        after_epoch(curriculum_model(run, cfg, step_dir), st, cfg, settings, log)
    save_state(run, st, cfg, step_dir)
    commit_epoch(run, st, out)


def resume_checks(st: State | None, cfg: ImproveConfig, out: Path, log: Log) -> None:
    """A resume uses the config the checkpoint was made with; say where it resumes."""
    if st is None:
        return
    check_same_config(st.config, cfg.model_dump(mode="json"), out, RESUME_MAY_DIFFER)
    log(f"resuming {out} after epoch {st.epoch} of {cfg.epochs} ({len(st.examples)} examples, "
        f"{len(st.history['replays'])} curriculum replays so far)")


def curriculum_model(run: Trainer, cfg: ImproveConfig, step_dir: Path) -> UnifiedModel:
    """The model the curriculum generates and judges with: the live one, or under FSDP (whose
    sharded layers cannot run the backend's decode loop) an unsharded copy of the weights just
    written, in the device's default inference dtype (bf16 on a GPU)."""
    if not run.fsdp:
        return run.model
    return load_model(cfg.model.model_copy(update={"path": str(step_dir / "model"), "dtype": "auto",
                                                   "device": str(run.accelerator.device)}))


def check_data_and_out(cfg: ImproveConfig, data_dir: Path, out: Path, allow_partial: bool = False) -> CuratedData:
    """The out dir is not a file (nor a checkpoint of another config), the curated data loads, is complete
    and fits the method, the config is sound."""
    if out.exists() and not out.is_dir():
        raise UnigapError(f"--out {out} is a file, not a checkpoint directory; choose another --out")
    data = load_curated(data_dir)
    check_data(data, cfg, data_dir, allow_partial)
    check_improve_config(cfg)
    return data


def check_improve_inputs(cfg: ImproveConfig, data_dir: str | Path, out: str | Path,
                         allow_partial: bool = False) -> None:
    """Everything `improve` checks before it writes: the out dir (and a checkpoint there), the data, the guard,
    the model and their match."""
    data = check_data_and_out(cfg, Path(data_dir), Path(out), allow_partial)
    st = State.load(Path(out))
    if st is not None:
        check_same_config(st.config, cfg.model_dump(mode="json"), Path(out), RESUME_MAY_DIFFER)
    model = load_model(cfg.model)
    check_trainable(model)
    check_backend(cfg, model)
    check_compatible(data, model, data_dir)


def improve(cfg: ImproveConfig, data_dir: str | Path, out: str | Path, force: bool = False, log: Log = print,
            on_batch: Callable[[int], None] | None = None, allow_partial: bool = False) -> dict:
    """Train (or resume) and return the history; the improved model is written to out/model."""
    data_dir, out = Path(data_dir), Path(out)
    data = check_data_and_out(cfg, data_dir, out, allow_partial)
    accelerator = make_accelerator(cfg)
    check_setup(cfg, accelerator)
    log = log if accelerator.is_main_process else (lambda _: None)
    st = State.load(out)
    resume_checks(st, cfg, out, log)
    model = load_for_training(cfg, out, st, accelerator)
    check_trainable(model)
    check_backend(cfg, model)
    check_compatible(data, model, data_dir, ignore=("path",) if st is not None and cfg.lora is None else ())
    if accelerator.is_main_process:  # everything checked: only now is anything written
        out.mkdir(parents=True, exist_ok=True)
        checkpoints(out).clean()  # what a killed process left uncommitted
    accelerator.wait_for_everyone()
    if st is None:
        st = State(list(examples_of(data, cfg.method)), list(data.discard))
        st.history["guard"] = on_main(accelerator, lambda: run_guard(cfg.guard, data, data_dir, force, log))
        if cfg.method == "dpo":
            st.ref = reference_logps(model, st.examples, cfg.batch_size)
    run = prepare(model, cfg, st, accelerator, log)
    load_optimizer(run, st, out)
    set_rng_state(st.rng)  # a resume continues the RNG streams of the committed epoch
    settings = replay_settings(cfg, model, data)
    while st.epoch < cfg.epochs:
        loss = train_epoch(run, st, cfg, on_batch)
        st.epoch += 1
        st.history["epochs"].append({"epoch": st.epoch, "loss": loss, "examples": len(st.examples)})
        log(f"epoch {st.epoch}/{cfg.epochs}: loss {loss:.4f} ({len(st.examples)} examples)")
        checkpoint_epoch(run, st, cfg, out, settings, log)
    if run.main:  # a process killed between the commit and the link left them behind
        publish(out, st.history)
    return st.history
