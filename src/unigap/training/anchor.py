"""Anchors against judge drift: extra loss terms the loop adds to every objective's micro-batch.

Generation-side training moves the shared trunk, and with it the self-judge (measured here: its
recall on the base eval images fell in all 21 runs of the judge-strength sweep). Two anchors:

judge_kl  KL(Bern(p0) || Bern(p)) on a reference set of the base model's own train-split images (the
          curated data: accepted images and DPO-rejected ones; never eval prompts), where p is the
          current judge's P(match) and p0 the base judge's, fixed at the start. P(match) is
          sigmoid(log p("The score is 1") - log p("The score is 0")) under the paper's question, i.e.
          P("1") / (P("1") + P("0")) after "The score is", as score_probs computes it, but
          differentiable (answer_logprobs).
replay    the NLL of a named understanding set's answers (image, question, answer), ceil(ratio x rows)
          items per micro-batch: a registered set, built by its factory(cfg, options) from the
          `anchor.replay` section (size, seed) and its typed `options` ("shapeworld_plain": plain
          one-word questions on train-split scenes; the lmms-eval benchmark of the same name uses the
          eval split), or a parquet file with columns image (PNG bytes), question, answer.
Draws are seeded by (seed, epoch, step, micro-batch): a resumed run draws what it drew straight.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from unigap.errors import DataError, UnigapError
from unigap.models.base import UnifiedModel, supports
from unigap.registry import Registry
from unigap.training.config import AnchorConfig, ReplayAnchor
from unigap.training.losses import bernoulli_kl
from unigap.verdict import ANSWER_PREFIX, question

if TYPE_CHECKING:
    from unigap.curation.dataset import CuratedData
    from unigap.training.objectives.base import Micro

# factory(cfg: ReplayAnchor with its seed set, options) -> [{"image": PNG bytes, "question", "answer"}]. A plugin
# entry point not declared with @unigap.registry.factory is called the old way, fn(size, seed), with a FutureWarning.
UND_SETS: Registry = Registry(
    "understanding set", group="unigap.understanding_sets", legacy=lambda fn, cfg, options: fn(cfg.size, cfg.seed)
)


def shapeworld_plain(cfg: ReplayAnchor, options: Any) -> list[dict]:
    """Plain questions on train-split ShapeWorld scenes (the lmms-eval task of the same name uses eval)."""
    from unigap import world
    from unigap.understand.shapeworld import build_items

    per = math.ceil(cfg.size / len(world.SUBTASKS))
    return [
        {"image": it["image"]["bytes"], "question": it["question"], "answer": it["answer"]}
        for it in build_items(per, cfg.seed, split="train")
    ][: cfg.size]


UND_SETS.register("shapeworld_plain")(shapeworld_plain)


def read_und_parquet(path: Path) -> list[dict]:
    """A user's understanding set: parquet with image (PNG bytes, or a struct with `bytes`), question, answer."""
    import pyarrow.parquet as pq

    if not path.is_file():
        raise DataError(
            f"anchor.replay.set: {path} is neither a registered set ({', '.join(UND_SETS.names())}) nor a parquet file"
        )
    table = pq.read_table(path)
    missing = [c for c in ("image", "question", "answer") if c not in table.column_names]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; an understanding set has image, question, answer")
    rows = table.select(["image", "question", "answer"]).to_pylist()
    if not rows:
        raise DataError(f"{path}: no rows")
    for r in rows:
        r["image"] = r["image"]["bytes"] if isinstance(r["image"], dict) else r["image"]
    return rows


def load_und_set(cfg: ReplayAnchor, seed: int, where: str = "anchor.replay") -> list[dict]:
    """The items of `cfg.set`: a registered set built by its factory (with `seed` unless `cfg.seed` is given),
    or a parquet file."""
    if cfg.set in UND_SETS:
        return UND_SETS.create(cfg.set, cfg.model_copy(update={"seed": seed if cfg.seed is None else cfg.seed}), where)
    return read_und_parquet(Path(cfg.set))


def decode_png(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def match_logit(model: UnifiedModel, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
    """log P("1") - log P("0") after "The score is" (the logit of score_probs' P(match)): (B,), differentiable."""
    qs = [question(p) for p in prompts]
    one = model.answer_logprobs(images, qs, [f"{ANSWER_PREFIX} 1"] * len(qs))  # type: ignore[attr-defined]
    zero = model.answer_logprobs(images, qs, [f"{ANSWER_PREFIX} 0"] * len(qs))  # type: ignore[attr-defined]
    return (one - zero).float()


def reference_rows(data: CuratedData, size: int, seed: int) -> list[tuple[list[int], str]]:
    """(tokens, prompt) of up to `size` base-model train images: accepted (sft) and rejected (dpo) ones."""
    rows = [(r["tokens"], r["prompt"]) for r in data.sft] + [(r["rejected_tokens"], r["prompt"]) for r in data.pairs]
    if not rows:
        raise DataError("anchor.judge_kl: the curated data holds no images of the base model to anchor the judge on")
    pick = np.random.default_rng([seed, 13]).permutation(len(rows))[:size]
    return [rows[i] for i in sorted(pick)]


class Anchors:
    """The configured anchors: `start` fixes the reference values, `loss` adds the micro-batch's terms."""

    def __init__(self, cfg: AnchorConfig, seed: int) -> None:
        self.cfg, self.seed = cfg, seed
        self.images: torch.Tensor | None = None  # decoded reference images (N, H, W, 3)
        self.und: list[dict] = []
        self.stats: dict[str, float] = {}

    @staticmethod
    def check(cfg: AnchorConfig, model: UnifiedModel | None = None) -> None:
        """Before anything is written: the understanding set exists; the backend can score text."""
        rp = cfg.replay
        if rp.set is not None and rp.weight > 0:
            if rp.set in UND_SETS:
                UND_SETS.validate_options(rp.set, rp.options, "anchor.replay.options")
            else:
                read_und_parquet(Path(rp.set))
        if model is not None and cfg.active and not supports(model, "answer_logprobs"):
            raise UnigapError(
                f"anchor: the {model.name!r} backend has no answer_logprobs (teacher-forced "
                "understanding log-probs), which both anchors need; remove the anchor section"
            )

    def start(self, model: UnifiedModel, data: CuratedData, st: Any) -> None:
        """Fresh run: draw the reference set and the base judge's P(match) on it (kept in the state)."""
        kl = self.cfg.judge_kl
        if kl.weight <= 0:
            return
        rows = reference_rows(data, kl.size, self.seed)
        tokens = torch.tensor([t for t, _ in rows], dtype=torch.long)
        prompts = [p for _, p in rows]
        images = model.decode(tokens)
        with torch.no_grad():
            z0 = torch.cat(
                [match_logit(model, images[i : i + 32], prompts[i : i + 32]).cpu() for i in range(0, len(rows), 32)]
            )
        st.anchor = {"tokens": tokens, "prompts": prompts, "p0": torch.sigmoid(z0)}

    def resume(self, model: UnifiedModel, st: Any) -> None:
        if self.cfg.judge_kl.weight > 0 and st.anchor:
            self.images = model.decode(st.anchor["tokens"])
            self.st = st
        rp = self.cfg.replay
        if rp.set is not None and rp.weight > 0:
            self.und = load_und_set(rp, self.seed)
            self.und_images = [decode_png(r["image"]) for r in self.und]

    def loss(self, model: UnifiedModel, micro: Micro) -> torch.Tensor | None:
        terms = []
        if self.images is not None:
            terms.append(self.cfg.judge_kl.weight * self.judge_kl(model, micro))
        if self.und:
            terms.append(self.cfg.replay.weight * self.replay(model, micro))
        return sum(terms) if terms else None

    def judge_kl(self, model: UnifiedModel, micro: Micro) -> torch.Tensor:
        n = len(self.st.anchor["prompts"])
        rng = np.random.default_rng([self.seed, 11, *micro.key])
        idx = sorted(rng.choice(n, min(self.cfg.judge_kl.batch, n), replace=False).tolist())
        z = match_logit(model, self.images[idx], [self.st.anchor["prompts"][i] for i in idx])
        kl = bernoulli_kl(self.st.anchor["p0"][idx].to(z.device), z).mean()
        self.stats["judge_kl"] = float(kl.detach())
        return kl

    def replay(self, model: UnifiedModel, micro: Micro) -> torch.Tensor:
        k = min(len(self.und), max(1, math.ceil(self.cfg.replay.ratio * len(micro.rows))))
        rng = np.random.default_rng([self.seed, 12, *micro.key])
        idx = sorted(rng.choice(len(self.und), k, replace=False).tolist())
        images = torch.from_numpy(np.stack([self.und_images[i] for i in idx]))
        nll = -model.answer_logprobs(
            images,
            [self.und[i]["question"] for i in idx],  # type: ignore[attr-defined]
            [self.und[i]["answer"] for i in idx],
        ).mean()
        self.stats["replay_nll"] = float(nll.detach())
        return nll
