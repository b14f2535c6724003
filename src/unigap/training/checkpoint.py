"""Checkpoint state: what a killed run needs to continue as if it had never stopped.

CKPT_DIR/
  model/            the current weights (a checkpoint the backend loads; LoRA merged by default)
  state.pt          optimizer state, epoch and step, the (growing) training data, discard pool,
                    history, the anchors' reference values, the LoRA adapter weights (LoRA runs
                    resume from the base model + these)
  optimizer.epoch*.rank*.pt  FSDP only: each process's optimizer shard (resume with as many processes)
  train.json        history: losses per epoch, curriculum replays, guard result, grpo steps, exploitation
  steps.csv         grpo: one row per step (reward and its terms, the monitor's verdict, KL, loss)
A killed run resumes from the last commit and ends with the same weights as an uninterrupted one
(shuffles and samples are seeded by (seed, epoch[, step]), the global RNG is reseeded each epoch/step).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from unigap.errors import UnigapError

if TYPE_CHECKING:
    from unigap.training.config import ImproveConfig
    from unigap.training.trainer import Trainer

STEPS_CSV = "steps.csv"


class State:
    """Everything needed to resume: epoch (and step within it), data (with curriculum additions), pool, history."""

    def __init__(self, examples: list[dict], pool: list[dict]) -> None:
        self.epoch, self.examples, self.pool = 0, examples, pool
        self.step = 0  # optimizer steps of the current epoch already committed (grpo commits mid-epoch)
        self.history: dict = {"epochs": [], "replays": [], "acceptance": [], "guard": None}
        self.optimizer: dict | None = None
        self.ref: dict[str, torch.Tensor] | None = None
        self.anchor: dict[str, Any] | None = None  # the anchors' reference set and base values
        self.adapter: dict[str, torch.Tensor] | None = None  # LoRA runs: the trained adapter weights
        self.world_size: int = 1

    def save(self, out: Path) -> None:
        tmp = out / "state.pt.tmp"
        torch.save(self.__dict__, tmp)
        tmp.replace(out / "state.pt")
        (out / "train.json").write_text(json.dumps(self.history, indent=2))
        if self.history.get("steps"):
            write_steps_csv(out / STEPS_CSV, self.history["steps"])

    @classmethod
    def load(cls, out: Path) -> "State | None":
        if not (out / "state.pt").exists():
            return None
        s = cls([], [])
        s.__dict__.update(torch.load(out / "state.pt", weights_only=False))
        return s


def write_steps_csv(path: Path, rows: list[dict]) -> None:
    """One row per grpo step; columns in first-seen order (reward terms vary by config)."""
    cols = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols)
    w.writeheader()
    w.writerows(rows)
    tmp = path.with_suffix(".csv.tmp")
    tmp.write_text(buf.getvalue())
    tmp.replace(path)


def epoch_seed(seed: int, epoch: int, step: int | None = None) -> int:
    """The global torch RNG seed of an epoch (or of one step of it): a resumed one draws what it drew straight."""
    key = [seed, epoch, 7] if step is None else [seed, epoch, 7, step]
    return int(np.random.default_rng(key).integers(2**62))


def _optimizer_file(run: "Trainer", out: Path, epoch: int) -> Path:
    """FSDP: this process's optimizer shard after `epoch` (named by epoch: state.pt says which is current)."""
    return out / f"optimizer.epoch{epoch}.rank{run.rank}.pt"


def load_optimizer(run: "Trainer", st: State, out: Path) -> None:
    if st.epoch == 0 and st.step == 0:
        return
    if st.world_size != run.world and run.fsdp:
        raise UnigapError(f"{out}: this FSDP run was saved by {st.world_size} processes; resume it with "
                          f"{st.world_size} (now {run.world})")
    if run.fsdp:
        run.opt.load_state_dict(torch.load(_optimizer_file(run, out, st.epoch), weights_only=False))
    elif st.optimizer:
        run.opt.load_state_dict(st.optimizer)


def save_weights(run: "Trainer", cfg: "ImproveConfig", out: Path) -> None:
    """out/model on the main process (FSDP: gathered from the shards first, by every process)."""
    kwargs: dict[str, Any] = {}
    if cfg.lora is not None:
        kwargs["merge_lora"] = cfg.merge_lora_on_save
    if run.fsdp:
        full = run.accelerator.get_state_dict(run.prepared)  # collective; the full state dict on the main process
        kwargs["state_dict"] = {k.removeprefix("inner."): v for k, v in full.items()}
    if run.main:
        run.model.save(out / "model", **kwargs)
    run.accelerator.wait_for_everyone()


def save_state(run: "Trainer", st: State, cfg: "ImproveConfig", out: Path) -> None:
    """state.pt last: it is the commit point of an epoch (or of a grpo step)."""
    st.world_size = run.world
    if cfg.lora is not None:
        st.adapter = {n: p.detach().cpu().clone() for n, p in run.model.module().named_parameters() if p.requires_grad}
    if run.fsdp:
        torch.save(run.opt.state_dict(), _optimizer_file(run, out, st.epoch))
    else:
        st.optimizer = run.opt.state_dict()
    run.accelerator.wait_for_everyone()
    if run.main:
        st.save(out)
    run.accelerator.wait_for_everyone()
    if run.fsdp:  # the previous epoch's shard is no longer referenced
        _optimizer_file(run, out, st.epoch - 1).unlink(missing_ok=True)


def commit(run: "Trainer", st: State, cfg: "ImproveConfig", out: Path) -> None:
    save_weights(run, cfg, out)
    save_state(run, st, cfg, out)
