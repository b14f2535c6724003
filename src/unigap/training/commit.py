"""The checkpoint commit protocol of `improve` and `pretrain`: one directory per committed step, one pointer.

OUT/
  LATEST                   the commit point: the name of the last complete step directory ("000003")
  epochs/000003/           (pretrain: steps/) everything a resume needs from that step, all written
                           before LATEST names it: the weights, state.pt (optimizer, counters, data,
                           RNG states, the run's config), per-process optimizer shards
  epochs/.000004.tmp/      the step being written; whatever a killed process left there is removed
  model -> epochs/000003/model   (improve) a relative symlink to the committed weights

`begin(step)` gives an empty temp dir; the caller writes the step into it; `commit(step)` renames it
into place and then atomically replaces LATEST (temp file + fsync + os.replace). A kill at any
moment leaves LATEST naming a complete step, or no LATEST (a fresh start), and a step's state never
references another step's weights. Older step dirs are removed after the commit, and anything LATEST
does not name is removed by `clean()` when the next process starts.

RNG: `rng_state()` / `set_rng_state()` capture and restore the torch (CPU and CUDA), numpy and
python generators, so a resumed process continues the streams the uninterrupted one had.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unigap.errors import CheckpointError, UnigapError
from unigap.faults import point
from unigap.files import sync_dir, write_text

LATEST = "LATEST"
_NAME = re.compile(r"\d{6,}")


def step_name(step: int) -> str:
    return f"{int(step):06d}"


class CommitDir:
    """The committed steps of one checkpoint directory `root` (steps live under root/`sub`)."""

    def __init__(self, root: str | Path, sub: str = "epochs") -> None:
        self.root, self.sub = Path(root), sub
        self.steps = self.root / sub

    def __repr__(self) -> str:
        return f"CommitDir({str(self.root)!r}, {self.sub!r})"

    # ---- reading -------------------------------------------------------------------------

    def latest_step(self) -> int | None:
        """The last committed step, or None when nothing was committed (a fresh start)."""
        path = self.root / LATEST
        if not path.exists():
            return None
        name = path.read_text(encoding="utf-8").strip()
        if not _NAME.fullmatch(name):
            raise CheckpointError(
                f"{path}: expected a step name like 000003, found {name[:40]!r}; the file was "
                "edited. Restore it, or train into a new --out"
            )
        if not (self.steps / name).is_dir():
            raise CheckpointError(
                f"{path} names {self.sub}/{name}, which is missing: the checkpoint dir was edited; "
                "restore it, or train into a new --out"
            )
        return int(name)

    def latest(self) -> Path | None:
        """The directory of the last committed step, or None."""
        step = self.latest_step()
        return None if step is None else self.steps / step_name(step)

    # ---- writing (main process only) ------------------------------------------------------

    def clean(self) -> None:
        """Remove what no commit references: temp dirs and step dirs other than the latest."""
        if not self.steps.is_dir():
            return
        keep = self.latest()
        for path in self.steps.iterdir():
            if path != keep and path.is_dir() and (path.name.startswith(".") or _NAME.fullmatch(path.name)):
                shutil.rmtree(path)

    def begin(self, step: int) -> Path:
        """An empty temp dir for `step` (what a killed attempt left there is removed)."""
        tmp = self.steps / f".{step_name(step)}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        return tmp

    def commit(self, step: int) -> Path:
        """Make the temp dir of `step` the latest committed step; returns its final dir."""
        tmp, final = self.steps / f".{step_name(step)}.tmp", self.steps / step_name(step)
        if not tmp.is_dir():
            raise UnigapError(f"{self}: commit of step {step} without begin()")
        current = self.latest_step()
        if current is not None and current >= step:
            raise UnigapError(f"{self}: step {step} is not after the committed step {current}")
        point("commit.staged", str(tmp))
        if final.exists():  # a killed attempt renamed it but never named it in LATEST
            shutil.rmtree(final)
        os.rename(tmp, final)
        sync_dir(self.steps)
        point("commit.renamed", str(final))
        write_text(self.root / LATEST, step_name(step) + "\n")
        point("commit.latest", str(final))
        self.clean()
        return final

    def link(self, name: str, target: str) -> None:
        """ROOT/name -> SUB/<latest>/target, a relative symlink replaced atomically (a real dir there,
        e.g. from a copied run, is swapped out first)."""
        step = self.latest_step()
        if step is None:
            return
        rel = Path(self.sub) / step_name(step) / target
        link = self.root / name
        if link.is_symlink() and os.readlink(link) == str(rel):
            return
        tmp = self.root / f".{name}.link.tmp"
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(rel, tmp)
        if link.exists() and not link.is_symlink():
            old = self.root / f".{name}.old"
            if old.exists():
                shutil.rmtree(old)
            os.rename(link, old)
            os.replace(tmp, link)
            shutil.rmtree(old)
        else:
            os.replace(tmp, link)
        point("commit.linked", str(link))


# ---- RNG states ----------------------------------------------------------------------------


def rng_state() -> dict[str, Any]:
    """The global generators' states: torch CPU (and CUDA when initialised), numpy, python."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    return {"torch": torch.get_rng_state(), "cuda": cuda, "numpy": np.random.get_state(), "python": random.getstate()}


def set_rng_state(state: dict[str, Any] | None) -> None:
    """Restore what `rng_state` captured (None: nothing to restore)."""
    if not state:
        return
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def epoch_seed(seed: int, epoch: int, step: int | None = None) -> int:
    """The global torch RNG seed of an epoch (or of one step of it): a resumed one draws what it drew straight."""
    key = [seed, epoch, 7] if step is None else [seed, epoch, 7, step]
    return int(np.random.default_rng(key).integers(2**62))


def seed_all(seed: int) -> None:
    """Seed torch, numpy and python's global generators (a fresh start's stream)."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


# ---- the config a checkpoint was made with -------------------------------------------------


def check_same_config(
    stored: dict | None, now: dict, where: Path, may_differ: Iterable[str] = (), cls: type | None = None
) -> None:
    """A resume must use the config the checkpoint was made with (keys in `may_differ` excepted; keys of
    config class `cls` renamed since count under their new names)."""
    from unigap.config import diff_keys

    if stored is None:
        return
    keys = [k for k in diff_keys(stored, now, cls=cls) if not any(k == m or k.startswith(m + ".") for m in may_differ)]
    if keys:
        raise UnigapError(
            f"{where} holds a checkpoint made with another config; these keys differ: "
            f"{', '.join(keys[:12])}{' ...' if len(keys) > 12 else ''}. Rerun with the same config "
            "to resume, or use a new --out"
        )
