"""`model.name: showo`: Show-o (showlab/show-o, show-o-512x512) behind the `UnifiedModel` protocol.

Generation: parallel decoding (sampling.py) with classifier-free guidance; `sampling.cfg_scale`
is Show-o's guidance scale g, `sampling.temperature` the starting confidence-noise temperature.
Understanding: the official MMU prompt around the paper's question, greedy answer (text.py).

Training objective (documented surrogate for a masked model):
  image_loss(prompts, tokens)     Show-o's own t2i objective (official loss_t2i): a mask ratio per
                                  image from the cosine schedule (t ~ U(0, 1), ratio = cos(πt/2),
                                  round(M·ratio) >= 1 positions masked at random), the null prompt
                                  with probability cond_dropout, cross-entropy over the whole
                                  vocabulary at the masked positions and at each row's <|soi|> and
                                  <|eoi|> (whose labels the official t2i prompt keeps), averaged
                                  over all of those.
  image_logprobs(prompts, tokens) log-likelihood surrogate for DPO and the SFT fallback:
                                  M × mean over the masked positions of log p(x_i | unmasked,
                                  prompt), averaged over `train_draws` mask draws that are a
                                  function of (mask_seed, prompt, tokens, draw) only. Policy and
                                  reference therefore see the same masks (reference computed once).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from unigap.errors import UnigapError
from unigap.models.base import Generation, ModelConfig, SamplingConfig, UnifiedModel
from unigap.models.common import checkpoint_layers, eval_mode
from unigap.models.showo.loading import ShowoConfig
from unigap.models.showo.model import ShowoModel, attn_mask, t2i_mask
from unigap.models.showo.options import ShowoOptions
from unigap.models.showo.preprocess import image_transform
from unigap.models.showo.prompting import MMU_ASSISTANT, MMU_USER, Layout
from unigap.models.showo.sampling import DecodeSpec, NonFiniteLogits, decode, guide
from unigap.models.showo.text import greedy, last_logits, mmu_batch, teacher_forced
from unigap.verdict import ANSWER_PREFIX

log = logging.getLogger(__name__)


def official_defaults(m: int) -> tuple[int, float]:
    """(steps, guidance) of the official t2i inference: 256 px 18 / 1.75, 512 px 50 / 5 (README)."""
    return (18, 1.75) if m <= 256 else (50, 5.0)


class ShowoBackend(UnifiedModel):
    name = "showo"

    def __init__(
        self, model: ShowoModel, layout: Layout, cfg: ShowoConfig, options: ShowoOptions, extra: dict[str, Any]
    ) -> None:
        self.model, self.layout, self.cfg, self.options = model, layout, cfg, options
        self.path, self.batch_size = extra["path"], max(1, extra["batch_size"])
        self.llm_raw, self.resolution = extra["llm_raw"], extra["resolution"]
        self.num_image_tokens = cfg.num_vq_tokens
        steps, g = official_defaults(self.num_image_tokens)
        self.steps = options.steps or steps
        self.default_sampling = SamplingConfig(cfg_scale=g, temperature=1.0, top_k=0)
        self.peft: Any = None

    @property
    def device(self) -> torch.device:
        return self.model.device

    # --- generation -------------------------------------------------------------------
    def generate(self, prompts: Sequence[str], seeds: Sequence[int], sampling: SamplingConfig) -> Generation:
        tokens = self.generate_tokens(prompts, seeds, sampling)
        return Generation(tokens, self.decode(tokens))

    def generate_tokens(self, prompts: Sequence[str], seeds: Sequence[int], sampling: SamplingConfig) -> torch.Tensor:
        if len(prompts) != len(seeds):
            raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
        spec = DecodeSpec(self.steps, sampling.cfg_scale, sampling.temperature, sampling.top_k)
        parts = []
        with self._eval(), torch.no_grad():
            for i in range(0, len(prompts), self.batch_size):
                parts.append(
                    self._generate(
                        list(prompts[i : i + self.batch_size]), list(seeds[i : i + self.batch_size]), spec
                    ).cpu()
                )
        return torch.cat(parts) if parts else torch.zeros(0, self.num_image_tokens, dtype=torch.long)

    def _generate(self, prompts: list[str], seeds: list[int], spec: DecodeSpec) -> torch.Tensor:
        lay, dev, m = self.layout, self.device, self.num_image_tokens
        guided = spec.guidance > 0  # official: unconditional rows only when guidance_scale > 0
        rows = lay.t2i_rows(
            prompts + ([""] * len(prompts) if guided else []),
            torch.full((len(prompts) * (2 if guided else 1), m), lay.mask_id, device=dev),
        )
        mask = attn_mask(t2i_mask(rows, lay.pad, lay.tid("<|soi|>"), lay.tid("<|eoi|>")))
        sl, lo = lay.image_slice(), lay.text_vocab

        def logits_fn(image: torch.Tensor) -> torch.Tensor:  # (B, M) -> (B, M, K)
            ids = rows.clone()
            ids[:, sl] = torch.cat([image, image]) if guided else image
            h = self.model.hidden(ids, mask)[:, sl]  # (B', M, C): the image positions' own outputs
            logits = self.model.head(h, lo, lo + lay.codebook)
            return guide(*logits.chunk(2), spec.guidance) if guided else logits

        gens = [torch.Generator(device=dev).manual_seed(int(s)) for s in seeds]
        try:
            return decode(logits_fn, m, lay.mask_id, lo, spec, gens, dev)
        except NonFiniteLogits as err:
            which = "; ".join(f"prompt {prompts[r]!r} (seed {seeds[r]})" for r in err.rows)
            raise UnigapError(
                f"showo: non-finite logits while decoding {which}; nothing of this batch "
                "was returned (earlier batches are unaffected)"
            ) from None

    @torch.no_grad()
    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, M) codes -> (B, H, W, 3) uint8, mapped like the official ((x + 1) / 2 clamped, x 255, truncated)."""
        parts = []
        with self._eval():
            for i in range(0, tokens.shape[0], self.batch_size):
                pix = self.model.vq.decode(tokens[i : i + self.batch_size].to(self.device)).float()  # (b, 3, H, W)
                parts.append((((pix + 1) / 2).clamp(0, 1) * 255).to(torch.uint8).permute(0, 2, 3, 1).cpu())
        return torch.cat(parts) if parts else torch.zeros(0, self.resolution, self.resolution, 3, dtype=torch.uint8)

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3) uint8 -> codes (B, M): resized (shorter side, bicubic) + centre-cropped by
        the official image_transform's steps (preprocess.py), scaled to [-1, 1]."""
        x = image_transform(images.to(self.device), self.resolution)  # (B, 3, side, side), on the device
        with self._eval():
            return self.model.vq.encode((x * 2 - 1).to(self.model.dtype)).cpu()

    # --- understanding ----------------------------------------------------------------
    def _rows(self, images: torch.Tensor, questions: Sequence[str], suffix: str = "") -> list[list[int]]:
        codes = self.encode(images).tolist()
        return [self.layout.mmu_prefix(c, q, suffix) for c, q in zip(codes, questions)]

    def _batch(self, rows: list[list[int]]) -> Any:
        return mmu_batch(rows, self.layout.pad, self.num_image_tokens, self.model.dtype, self.device)

    def answer(self, images: torch.Tensor, questions: Sequence[str], max_new_tokens: int = 16) -> list[str]:
        out: list[str] = []
        tok = self.layout.tokenizer
        with self._eval():
            for i in range(0, len(questions), self.batch_size):
                rows = self._rows(images[i : i + self.batch_size], questions[i : i + self.batch_size])
                new = greedy(self.model, self._batch(rows), max_new_tokens, self.layout.eos)
                out += [tok.decode([t for t in r if t < len(tok)], skip_special_tokens=True).strip() for r in new]
        return out

    def prob_answer(self, verdict: int) -> str:
        """The raw answer of a prob-mode verdict in the judge_prob form asked: "The score is 1." or "Yes."."""
        if self.options.judge_prob == "score":
            return f"{ANSWER_PREFIX} {verdict}."
        return "Yes." if verdict else "No."

    def _prob_ids(self, q: str) -> tuple[str, int, int]:
        """(answer prefix, id of the 'yes' answer token, id of the 'no' one) for prob mode."""
        prefix, (a, b) = (
            (f" {ANSWER_PREFIX}", (" 1", " 0")) if self.options.judge_prob == "score" else ("", (" Yes", " No"))
        )
        head = MMU_USER + q + MMU_ASSISTANT + prefix
        return prefix, self.layout.continuation(head, a)[0], self.layout.continuation(head, b)[0]

    @torch.no_grad()
    def score_probs(self, images: torch.Tensor, questions: Sequence[str]) -> list[float]:
        """P(yes) / (P(yes) + P(no)) for the next token: " 1" vs " 0" after " The score is"
        (judge_prob: score) or " Yes" vs " No" as the first answer token (judge_prob: yes_no)."""
        out: list[float] = []
        with self._eval():
            for i in range(0, len(questions), self.batch_size):
                qs = list(questions[i : i + self.batch_size])
                prefix, yes, no = self._prob_ids(qs[0])
                logits = last_logits(self.model, self._batch(self._rows(images[i : i + self.batch_size], qs, prefix)))
                out += logits[:, [yes, no]].softmax(-1)[:, 0].tolist()
        return out

    def answer_logprobs(self, images: torch.Tensor, questions: Sequence[str], answers: Sequence[str]) -> torch.Tensor:
        """Teacher-forced log p(" " + answer | image, question), summed over the answer tokens: (B,)."""
        rows, starts = [], []
        for row, q, a in zip(self._rows(images, questions), questions, answers):
            starts.append(len(row))
            rows.append(row + self.layout.continuation(MMU_USER + q + MMU_ASSISTANT, " " + a))
        return teacher_forced(self.model, self._batch(rows), starts)

    # --- training objective -----------------------------------------------------------
    def _span_logp(self, prompts: Sequence[str], tokens: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
        """log p over the whole vocabulary of <|soi|>, the M image tokens and <|eoi|> at their own positions
        (no shift: Show-o predicts each image token where it stands), image tokens masked where `masked`:
        (B, M + 2)."""
        lay = self.layout
        tokens, masked = tokens.to(self.device), masked.to(self.device)
        image = torch.where(masked, lay.mask_id, tokens + lay.text_vocab)  # (B, M)
        rows = lay.t2i_rows(list(prompts), image)
        mask = attn_mask(t2i_mask(rows, lay.pad, lay.tid("<|soi|>"), lay.tid("<|eoi|>")))
        h = self.model.hidden(rows, mask)[:, lay.text_width :]  # (B, M + 2, C): soi .. eoi
        logits = self.model.llm.lm_head(h).float()  # (B, M + 2, V)
        target = rows[:, lay.text_width :].clone()
        target[:, 1:-1] = tokens + lay.text_vocab
        return logits.log_softmax(-1).gather(-1, target[..., None])[..., 0]

    def image_logprobs(self, prompts: Sequence[str], tokens: torch.Tensor) -> torch.Tensor:
        """Likelihood surrogate (module docstring): (B, M) codes -> (B,), differentiable."""
        m, draws = self.num_image_tokens, self.options.train_draws
        total = 0
        for d in range(draws):
            masked = torch.stack([surrogate_mask(self.options.mask_seed, d, p, t) for p, t in zip(prompts, tokens)])
            logp = self._span_logp(prompts, tokens, masked)[:, 1:-1]  # (B, M)
            masked = masked.to(logp.device).float()
            total = total + (logp * masked).sum(-1) / masked.sum(-1)
        return m * total / draws

    def image_loss(
        self, prompts: Sequence[str], tokens: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Show-o's t2i training loss (official loss_t2i) on (prompt, codes) pairs with fresh mask draws: the
        mean cross-entropy over the masked image tokens and each row's <|soi|> and <|eoi|>: scalar."""
        B, m = tokens.shape
        masked = schedule_masks(B, m, generator)
        drop = torch.rand(B, generator=generator) < self.options.cond_dropout
        texts = ["" if dr else p for p, dr in zip(prompts, drop.tolist())]
        logp = self._span_logp(texts, tokens, masked)  # (B, M + 2)
        ends = torch.ones(B, 1, dtype=torch.bool)
        counted = torch.cat([ends, masked, ends], 1).to(logp.device)  # official labels != -100
        return -(logp * counted).sum() / counted.sum()

    # --- weights ------------------------------------------------------------------------
    def module(self) -> nn.Module:
        return self.model

    def components(self) -> dict[str, list[nn.Parameter]]:
        llm = self.model.llm
        out = {
            "llm": list(llm.parameters()),
            "embed": list(llm.model.embed_tokens.parameters()),
            "head": list(llm.lm_head.parameters()),
            "vq": list(self.model.vq.parameters()),
        }
        if self.peft is not None:
            out["lora"] = [p for n, p in llm.named_parameters() if "lora_" in n]
        return out

    def fingerprint(self) -> dict[str, Any]:
        return {
            "backend": "showo",
            "path": self.path,
            "num_image_tokens": self.num_image_tokens,
            "codebook_size": self.layout.codebook,
            "text_vocab": self.layout.text_vocab,
            "vq_sha256": state_sha256(self.model.vq),
        }

    def weights_sha256(self) -> str | None:
        return None

    def save(self, path: Path, merge_lora: bool = True, state_dict: dict[str, torch.Tensor] | None = None) -> None:
        from unigap.models.showo.checkpoint import save_checkpoint

        save_checkpoint(self, Path(path), merge_lora, state_dict)

    def apply_lora(
        self, r: int = 16, alpha: float = 32, target_modules: Sequence[str] | None = None, dropout: float = 0.0
    ) -> list[nn.Parameter]:
        """PEFT LoRA on the Phi decoder; every other weight frozen. Returns the LoRA params."""
        from unigap.models.showo.lora import DEFAULT_TARGETS, inject

        if self.peft is not None:
            raise ValueError("LoRA is already applied to this backend")
        self.peft = inject(self.model.llm.model, r, alpha, target_modules or DEFAULT_TARGETS, dropout)
        for name, p in self.model.named_parameters():
            p.requires_grad_("lora_" in name)
        return [p for p in self.model.parameters() if p.requires_grad]

    def enable_gradient_checkpointing(self) -> None:
        checkpoint_layers(self.model.llm.model)

    def _eval(self) -> contextlib.AbstractContextManager:
        return eval_mode(self.model)


def surrogate_mask(seed: int, draw: int, prompt: str, tokens: torch.Tensor) -> torch.Tensor:
    """One schedule draw (M,) bool that depends only on (seed, draw, prompt, tokens)."""
    h = hashlib.sha256(f"{seed}|{draw}|{prompt}|".encode() + tokens.cpu().numpy().astype("int64").tobytes())
    g = torch.Generator().manual_seed(int.from_bytes(h.digest()[:8], "little") >> 1)
    return schedule_masks(1, tokens.shape[-1], g)[0]


def schedule_masks(b: int, m: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Official mask_or_random_replace_tokens: t ~ U(0,1), ratio = cos(πt/2), round(M·ratio) >= 1
    positions chosen by a random permutation. (B, M) bool, on the CPU."""
    ratio = torch.cos(torch.rand(b, generator=generator) * math.pi * 0.5)
    n = (m * ratio).round().clamp(min=1)
    order = torch.rand(b, m, generator=generator).argsort(-1)
    return order < n[:, None]


def state_sha256(module: nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in sorted(module.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()


def load_showo(cfg: ModelConfig, options: ShowoOptions | None = None) -> ShowoBackend:
    """The registry's loader: cfg.path (hub id or dir; None = showlab/show-o), options = model.options."""
    from unigap.models.showo.checkpoint import load_checkpoint

    if options is None:
        options = ShowoOptions(**(getattr(cfg, "options", None) or {}))
    model, layout, scfg, extra = load_checkpoint(cfg, options)
    return ShowoBackend(model, layout, scfg, options, extra)
