"""The paper's offline objectives on curated data (Alg. 1 and §3.2): `sft` and `dpo`.

sft  image-token NLL on self-accepted images (the backend's own `image_loss` where it has one:
     Show-o's masked-token cross-entropy); per token, averaged over rows.
dpo  sigmoid DPO on (chosen, rejected) pairs + nll_weight x NLL on chosen (RPO-style, paper §3.2);
     the reference log-probs are the base model's, computed once before training (pairs a
     curriculum replay adds get the then-current model's).
Both add `und_weight` x the NLL of the curated verdict ("The score is 1." / "0.") when set.
"""

from __future__ import annotations

from typing import Any

import torch

from unigap.curation.dataset import CuratedData
from unigap.errors import DataError
from unigap.models.base import UnifiedModel, supports
from unigap.training.losses import dpo_loss, sft_loss
from unigap.training.objectives.base import Micro, Objective
from unigap.verdict import ANSWER_PREFIX, question


def tokens(rows: list[dict], key: str) -> torch.Tensor:
    return torch.tensor([r[key] for r in rows], dtype=torch.long)


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


class _Offline(Objective):
    rows_key = ""  # "sft" or "pairs" of CuratedData
    what = ""

    def check_data(self, data: CuratedData, data_dir: Any) -> None:
        if not getattr(data, self.rows_key):
            raise DataError(
                f"{data_dir}: no {self.what} to train on (discard pool: {len(data.discard)} prompts). "
                "Try more candidates per prompt (n=), rule all_accepted, a higher sampling temperature, "
                "or selector oracle."
            )

    def check_model(self, model: UnifiedModel) -> None:
        from unigap.errors import UnigapError

        if self.cfg.und_weight and not supports(model, "answer_logprobs"):
            raise UnigapError(
                f"und_weight: the {model.name!r} backend has no answer_logprobs (teacher-forced "
                "understanding log-probs); set und_weight: 0"
            )

    def examples(self, data: CuratedData) -> list[dict]:
        return list(getattr(data, self.rows_key))

    def loss(self, model: UnifiedModel, micro: Micro) -> torch.Tensor:
        loss = self.image_loss(model, micro)
        return loss + self.cfg.und_weight * verdict_loss(model, micro.rows, self.name) if self.cfg.und_weight else loss

    def image_loss(self, model: UnifiedModel, micro: Micro) -> torch.Tensor:
        raise NotImplementedError


class SFT(_Offline):
    name, rows_key, what = "sft", "sft", "accepted images"

    def image_loss(self, model: UnifiedModel, micro: Micro) -> torch.Tensor:
        texts = [r["prompt"] for r in micro.rows]
        if supports(model, "image_loss"):  # the backend's own objective (Show-o: masked tokens)
            return model.image_loss(texts, tokens(micro.rows, "tokens"))  # type: ignore[attr-defined]
        return sft_loss(model.image_logprobs(texts, tokens(micro.rows, "tokens")), model.num_image_tokens)

    def added(self, ctx: Any, replay: Any, model: UnifiedModel) -> list[dict]:
        return replay.sft


class DPO(_Offline):
    name, rows_key, what = "dpo", "pairs", "chosen/rejected pairs"

    def start(self, ctx: Any) -> None:
        ctx.st.ref = reference_logps(ctx.model, ctx.st.examples, self.cfg.train_batch_size)

    def resume(self, ctx: Any) -> None:
        self.state = ctx.st  # the reference log-probs live in the state (they grow with replays)

    def image_loss(self, model: UnifiedModel, micro: Micro) -> torch.Tensor:
        texts, ref, idx = [r["prompt"] for r in micro.rows], self.state.ref, micro.idx
        pc = model.image_logprobs(texts, tokens(micro.rows, "chosen_tokens"))
        pr = model.image_logprobs(texts, tokens(micro.rows, "rejected_tokens"))
        loss = dpo_loss(pc, pr, ref["chosen"][idx].to(pc.device), ref["rejected"][idx].to(pc.device), self.cfg.beta)
        return loss + self.cfg.nll_weight * sft_loss(pc, model.num_image_tokens)

    def added(self, ctx: Any, replay: Any, model: UnifiedModel) -> list[dict]:
        if replay.pairs:  # pairs found now: reference = the current model
            extra = reference_logps(model, replay.pairs, self.cfg.train_batch_size)
            ctx.st.ref = {k: torch.cat([ctx.st.ref[k], extra[k]]) for k in ctx.st.ref}
        return replay.pairs


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
