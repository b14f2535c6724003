"""Checkpoint state and its commits: what a killed run needs to continue as if it had never stopped.

CKPT_DIR/ (the commit protocol is unigap.training.commit)
  LATEST            the commit point: names the last complete commit dir
  epochs/000003/    one commit (the end of an epoch; grpo also every `save_every` steps), written whole
                    before LATEST names it:
    model/          the weights (a checkpoint the backend loads; LoRA merged by default)
    state.pt        optimizer state, epoch and step within it, the (growing) training data, discard
                    pool, history, the anchors' reference values, RNG states, the config, the LoRA
                    adapter weights (LoRA runs resume from the base model + these)
    optimizer.rank*.pt  FSDP only: each process's optimizer shard (resume with as many processes)
  model             -> epochs/<latest>/model (a relative symlink)
  train.json        history: losses per epoch, curriculum replays, guard result, grpo steps, exploitation
  steps.csv         grpo: one row per step (reward and its terms, the monitor's verdict, KL, loss, seconds)
A killed run (kill -9 included, during the curriculum replay too) resumes from the last commit and ends
with the same weights, data and history as an uninterrupted one: shuffles and samples are seeded by
(seed, epoch[, step]), and the weights, optimizer and RNG states of a commit are written together.
Commits are numbered 1, 2, ... (`State.commits`); for sft and dpo commit k is the end of epoch k.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from unigap.errors import UnigapError
from unigap.faults import point
from unigap.files import write_json, write_text
from unigap.training.commit import CommitDir, check_same_config, rng_state, step_name

if TYPE_CHECKING:
    from unigap.training.config import ImproveConfig
    from unigap.training.trainer import Trainer

STATE_FILE = "state.pt"
STEPS_CSV = "steps.csv"
RESUME_MAY_DIFFER = ("epochs", "model.batch_size")  # a resume may train longer, or generate in other batches


class State:
    """Everything needed to resume: epoch and step, data (with curriculum additions), pool, history, RNG states."""

    def __init__(self, examples: list[dict], pool: list[dict]) -> None:
        self.epoch, self.examples, self.pool = 0, examples, pool
        self.step = 0  # optimizer steps of the current epoch already committed (grpo commits mid-epoch)
        self.commits = 0  # commits made: the next one is named commits + 1
        self.history: dict = {"epochs": [], "replays": [], "acceptance": [], "guard": None}
        self.optimizer: dict | None = None
        self.ref: dict[str, torch.Tensor] | None = None
        self.anchor: dict[str, Any] | None = None  # the judge-KL anchor's reference images and base values
        self.adapter: dict[str, torch.Tensor] | None = None  # LoRA runs: the trained adapter weights
        self.world_size: int = 1
        self.rng: dict | None = None  # global RNG states at the commit
        self.config: dict | None = None  # the ImproveConfig the checkpoint was made with

    def save(self, step_dir: Path) -> None:
        """state.pt into a commit's temp dir (the commit makes it visible)."""
        torch.save(self.__dict__, step_dir / STATE_FILE)

    @classmethod
    def load(cls, out: Path) -> State | None:
        """The state of the last commit of `out`, or None (nothing committed: a fresh start)."""
        step_dir = checkpoints(out).latest()
        if step_dir is None:
            if (Path(out) / STATE_FILE).exists():
                raise UnigapError(
                    f"{out}: a checkpoint in the layout of an older unigap (state.pt beside model/, "
                    "which a kill could leave out of step); train into a new --out"
                )
            return None
        s = cls([], [])
        try:
            s.__dict__.update(torch.load(step_dir / STATE_FILE, weights_only=False))
        except (OSError, RuntimeError, EOFError) as err:
            raise UnigapError(
                f"{step_dir / STATE_FILE}: cannot be read ({err}); the checkpoint dir was "
                "edited: restore it, or train into a new --out"
            ) from None
        if "commits" not in s.__dict__ or not s.commits:  # a checkpoint written before grpo's mid-epoch commits
            s.commits = int(step_dir.name)
        return s


def checkpoints(out: Path) -> CommitDir:
    return CommitDir(out, "epochs")


def flat(row: dict, prefix: str = "") -> dict:
    """{"seconds": {"train": 1.2}} -> {"seconds/train": 1.2}."""
    out: dict = {}
    for k, v in row.items():
        if isinstance(v, dict):
            out.update(flat(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = v
    return out


def steps_csv(rows: list[dict]) -> str:
    """One row per grpo step; columns in first-seen order (reward terms vary by config)."""
    rows = [flat(r) for r in rows]
    cols = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols)
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


# ---- one commit (protocol: unigap.training.commit) --------------------------------------------


def _optimizer_file(run: Trainer, step_dir: Path) -> Path:
    """FSDP: this process's optimizer shard in a commit's dir."""
    return step_dir / f"optimizer.rank{run.rank}.pt"


def load_optimizer(run: Trainer, st: State, out: Path) -> None:
    if st.commits == 0:
        return
    if st.world_size != run.world and run.fsdp:
        raise UnigapError(
            f"{out}: this FSDP run was saved by {st.world_size} processes; resume it with "
            f"{st.world_size} (now {run.world})"
        )
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
    """The optimizer (FSDP: each process's shard), adapters, RNG states and state.pt into the commit's dir."""
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


def begin(run: Trainer, out: Path, k: int) -> Path:
    """The empty temp dir commit `k` is written into (made by the main process)."""
    step_dir = checkpoints(out).steps / f".{step_name(k)}.tmp"
    if run.main:
        checkpoints(out).begin(k)
    run.accelerator.wait_for_everyone()
    return step_dir


def publish(out: Path, history: dict) -> None:
    """OUT/model -> the committed weights, OUT/train.json (and steps.csv) = the committed history (idempotent)."""
    checkpoints(out).link("model", "model")
    write_json(out / "train.json", history)
    if history.get("steps"):
        write_text(out / STEPS_CSV, steps_csv(history["steps"]))


def commit(
    run: Trainer, st: State, cfg: ImproveConfig, out: Path, between: Callable[[Path], None] | None = None
) -> None:
    """Weights, then `between` (the curriculum replay, which may use them), then state: all in the commit's
    temp dir; then the commit makes them the ones a resume starts from."""
    st.commits += 1
    step_dir = begin(run, out, st.commits)
    save_weights(run, cfg, step_dir)
    if between is not None:
        between(step_dir)
    save_state(run, st, cfg, step_dir)
    if run.main:
        checkpoints(out).commit(st.commits)
        publish(out, st.history)
    run.accelerator.wait_for_everyone()


def resume_checks(st: State | None, cfg: ImproveConfig, out: Path, log: Callable[[str], None]) -> None:
    """A resume uses the config the checkpoint was made with; say where it resumes."""
    if st is None:
        return
    check_same_config(st.config, cfg.model_dump(mode="json"), out, RESUME_MAY_DIFFER, type(cfg))
    where = f"step {st.step} of epoch {st.epoch + 1}" if st.step else f"epoch {st.epoch}"
    log(
        f"resuming {out} after {where} of {cfg.epochs} ({len(st.examples)} examples, "
        f"{len(st.history['replays'])} curriculum replays so far)"
    )
