"""`model.name: tiny`: the shipped ShapeWorld model behind the `UnifiedModel` protocol.

The model runs on `model.device` (or wherever the trainer moved it: `device` follows its weights); tensors
come back on the CPU except the differentiable log-probs, which stay beside the weights."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from unigap.models.base import Generation, ModelConfig, SamplingConfig, SelfJudgeConfig, UnifiedModel
from unigap.models.tiny.checkpoint import TinyCheckpoint, load_checkpoint, save_checkpoint
from unigap.models.tiny.format import Batch, TinyFormat
from unigap.utils import left_pad
from unigap.verdict import ANSWER_PREFIX, question


def gumbel_noise(seed: int, m: int, k: int) -> torch.Tensor:
    """Per-candidate Gumbel noise (M, K) from its own generator: batch-independent sampling."""
    g = torch.Generator().manual_seed(int(seed))
    u = torch.rand(m, k, generator=g).clamp_(1e-10, 1 - 1e-7)
    return -torch.log(-torch.log(u))


class TinyBackend(UnifiedModel):
    name = "tiny"

    def __init__(self, ckpt: TinyCheckpoint, batch_size: int = 64, path: str | None = None) -> None:
        self.ckpt, self.batch_size, self.path = ckpt, batch_size, path
        self.model = ckpt.model
        self.fmt = TinyFormat(ckpt.tokenizer, self.model.cfg.prompt_len, self.model.cfg.n_image_tokens)
        self.num_image_tokens = self.model.cfg.n_image_tokens
        self.default_sampling = SamplingConfig(**ckpt.card.get("sampling", {}))

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _on_device(self, batch: Batch) -> Batch:
        return Batch(batch.ids.to(self.device), batch.key_ok.to(self.device))

    # --- generation -------------------------------------------------------------------
    def generate(self, prompts: Sequence[str], seeds: Sequence[int], sampling: SamplingConfig) -> Generation:
        chunks = [
            self._generate(list(prompts[i : i + self.batch_size]), list(seeds[i : i + self.batch_size]), sampling)
            for i in range(0, len(prompts), self.batch_size)
        ]
        tokens = torch.cat(chunks) if chunks else torch.zeros(0, self.num_image_tokens, dtype=torch.long)
        return Generation(tokens, self.decode(tokens))

    def _generate(self, prompts: list[str], seeds: list[int], s: SamplingConfig) -> torch.Tensor:
        guided = s.cfg_scale != 1.0
        batch = self._on_device(self.fmt.gen_prompts(prompts + ([None] * len(prompts) if guided else [])))
        noise = torch.stack([gumbel_noise(sd, self.num_image_tokens, self.model.cfg.image_vocab) for sd in seeds])
        was = self.model.training
        self.model.eval()
        tokens, _ = self.model.generate_images(
            batch.ids, batch.key_ok, noise.to(self.device), s.cfg_scale, s.temperature, s.top_k
        )
        self.model.train(was)
        return tokens.cpu()  # (B, M)

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.ckpt.codec.decode(tokens.cpu().numpy()))

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.ckpt.codec.encode(np.asarray(images.cpu() if torch.is_tensor(images) else images)))

    def prompt_problems(self, prompts: Sequence[str], judge: SelfJudgeConfig | None = None) -> list[tuple[int, str]]:
        """(index, reason) of each prompt this model cannot generate for (more than prompt_len tokens) or
        self-judge (question, image and answer longer than its context): checked before a run writes."""
        answer = (judge.max_new_tokens if judge is not None and judge.mode == "parse" else 0) + 4
        limit, out = self.model.cfg.block_size, []
        for i, text in enumerate(prompts):
            n_gen = len(self.fmt.gen_prompt_ids(text))
            n_und = len(self.fmt.und_prefix([0] * self.num_image_tokens, question(text))) + answer
            if n_gen > self.fmt.P:
                out.append(
                    (
                        i,
                        f"{n_gen} tokens, the tiny model takes at most {self.fmt.P - 3} words "
                        f"({len(text)} characters: {text[:60]!r}...)",
                    )
                )
            elif n_und > limit:
                out.append((i, f"its self-judgment needs {n_und} positions, the tiny model's context is {limit}"))
        return out

    # --- understanding ----------------------------------------------------------------
    def answer(self, images: torch.Tensor, questions: Sequence[str], max_new_tokens: int = 16) -> list[str]:
        out: list[str] = []
        tokens = self.encode(images)
        for i in range(0, len(questions), self.batch_size):
            batch = self._on_device(
                self.fmt.und_prompts(tokens[i : i + self.batch_size], list(questions[i : i + self.batch_size]))
            )
            new = self.model.eval().greedy_text(batch.ids, batch.key_ok, max_new_tokens, self.fmt.tok.eos)
            out += [self.fmt.tok.decode(row.tolist()) for row in new]
        return out

    @torch.no_grad()
    def score_probs(self, images: torch.Tensor, questions: Sequence[str]) -> list[float]:
        """P("1") / (P("1") + P("0")) for the token after the answer prefix "The score is"."""
        one, zero = self.fmt.tok.index["1"], self.fmt.tok.index["0"]
        tokens, out = self.encode(images), []
        for i in range(0, len(questions), self.batch_size):
            batch = self._on_device(
                self.fmt.und_prompts(
                    tokens[i : i + self.batch_size], list(questions[i : i + self.batch_size]), ANSWER_PREFIX
                )
            )
            logits = self.model.eval().next_text_logits(batch.ids, batch.key_ok)  # (B, V)
            out += logits[:, [one, zero]].softmax(-1)[:, 0].tolist()
        return out

    # --- training support -------------------------------------------------------------
    def image_logprobs(self, prompts: Sequence[str], tokens: torch.Tensor) -> torch.Tensor:
        return self.image_token_logprobs(prompts, tokens).sum(-1)  # (B,)

    def image_token_logprobs(self, prompts: Sequence[str], tokens: torch.Tensor) -> torch.Tensor:
        """Per-token teacher-forced log p(tokens | prompt), conditional: (B, M), differentiable."""
        batch = self._on_device(self.fmt.gen_prompts(list(prompts)))
        return self.model.image_logprobs(batch.ids, batch.key_ok, tokens.to(self.device))  # (B, M)

    def answer_logprobs(self, images: torch.Tensor, questions: Sequence[str], answers: Sequence[str]) -> torch.Tensor:
        """Teacher-forced log p(answer | image, question), summed over answer tokens: (B,), differentiable."""
        tokens = self.encode(images)
        rows, starts = [], []
        for t, q, a in zip(tokens, questions, answers):
            prefix = self.fmt.und_prefix(t.tolist(), q)
            rows.append(prefix + self.fmt.tok.encode(a))
            starts.append(len(prefix))
        batch = self._on_device(Batch(*left_pad(rows, self.fmt.tok.pad)))
        h = self.model(batch.ids, batch.key_ok)  # (B, T, C)
        tgt = batch.ids[:, 1:].clamp(max=len(self.fmt.tok) - 1)  # image ids are never answer targets
        logp = self.model.lm_head(h[:, :-1]).log_softmax(-1).gather(-1, tgt[..., None])[..., 0]  # (B, T-1)
        T = batch.ids.shape[1]
        keep = torch.stack(
            [torch.arange(T - 1, device=self.device) >= T - len(r) + s - 1 for r, s in zip(rows, starts)]
        )  # (B, T-1): the answer's targets
        return (logp * keep).sum(-1)

    def module(self) -> nn.Module:
        return self.model

    def components(self) -> dict[str, list[nn.Parameter]]:
        return self.model.components()

    def fingerprint(self) -> dict[str, Any]:
        return {
            "backend": "tiny",
            "codec_sha256": self.ckpt.codec.sha256(),
            "num_image_tokens": self.num_image_tokens,
            "text_vocab": len(self.fmt.tok),
        }

    def weights_sha256(self) -> str | None:
        return self.ckpt.card.get("sha256")

    def save(self, path: Path, merge_lora: bool = True, state_dict: dict[str, torch.Tensor] | None = None) -> None:
        """The checkpoint directory (no LoRA here: merge_lora has nothing to merge)."""
        if state_dict is not None:
            from unigap.errors import UnigapError

            raise UnigapError(
                "the tiny backend saves its live weights only (not a gathered FSDP state dict); "
                "train it on one process or with DDP"
            )
        save_checkpoint(self.ckpt, path)


def load_tiny(cfg: ModelConfig, options: Any = None) -> TinyBackend:
    ckpt = load_checkpoint(cfg.path)
    ckpt.model.to(torch.device(cfg.device))  # load_model checked that the device exists
    return TinyBackend(ckpt, cfg.batch_size, cfg.path)
