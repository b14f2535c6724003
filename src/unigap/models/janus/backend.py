"""`model.name: janus`: Janus-Pro (transformers' native Janus) behind the `UnifiedModel` protocol.

Image generation runs our own decode loop (decode.py), never transformers' image `generate`
(which crashes in transformers 5.17, the version on the GPU machine). Understanding uses the
model's forward and transformers' text-mode `generate`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from unigap.models.base import Generation, ModelConfig, SamplingConfig, UnifiedModel
from unigap.models.common import checkpoint_layers, eval_mode, rowwise_answer_logprobs
from unigap.models.janus.decode import CompileMode, DecodeResult, DecodeSettings, JanusDecoder, Sampler, SpecialIds
from unigap.models.janus.loading import DEFAULT_PATH, load_pretrained, resolve_checkpoint, resolve_dtype
from unigap.models.janus.text import generation_rows, score_ids, understanding_inputs
from unigap.utils import left_pad

log = logging.getLogger(__name__)
T = TypeVar("T")


class JanusBackend(UnifiedModel):
    name = "janus"

    def __init__(
        self,
        model: Any,
        processor: Any,
        path: str,
        batch_size: int = 64,
        compile: CompileMode = "none",
        source_sha256: str | None = None,
    ) -> None:
        self.model, self.processor, self.path = model, processor, path
        self.source_sha256 = source_sha256  # set when `path` is an original-format checkpoint we converted
        self.batch_size = max(1, batch_size)
        self.num_image_tokens = model.model.vision_model.config.num_image_tokens
        self.default_sampling = SamplingConfig()  # Janus defaults: cfg 5, temperature 1, no top-k
        tok = processor.tokenizer
        self.special = SpecialIds(tok.pad_token_id, tok.bos_token_id, tok.convert_tokens_to_ids(tok.boi_token))
        self.decoder = JanusDecoder(model, self.special, compile)
        self.peft: Any = None  # the PeftModel wrapping the language model once apply_lora ran

    @property
    def device(self) -> torch.device:
        return self.decoder.device

    # --- generation -------------------------------------------------------------------
    def generate(self, prompts: Sequence[str], seeds: Sequence[int], sampling: SamplingConfig) -> Generation:
        tokens = self.generate_tokens(prompts, seeds, sampling).tokens  # (B, M)
        return Generation(tokens, self.decode(tokens))

    def generate_tokens(
        self, prompts: Sequence[str], seeds: Sequence[int], sampling: SamplingConfig, sampler: Sampler = "gumbel"
    ) -> DecodeResult:
        """Image tokens (B, M) and their sampling log-probs, on the CPU. `multinomial` = parity tests only."""
        if len(prompts) != len(seeds):
            raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
        s = DecodeSettings(sampling.cfg_scale, sampling.temperature, sampling.top_k, sampler)
        rows = generation_rows(self.processor, prompts) if prompts else []
        with self._eval():
            parts = self._oom_halving(lambda i, n: self._decode_cpu(rows[i : i + n], seeds[i : i + n], s), len(rows))
        if not parts:
            empty = torch.zeros(0, self.num_image_tokens)
            return DecodeResult(empty.long(), empty)
        return DecodeResult(torch.cat([p.tokens for p in parts]), torch.cat([p.logprobs for p in parts]))

    def _decode_cpu(self, rows: list[list[int]], seeds: Sequence[int], s: DecodeSettings) -> DecodeResult:
        r = self.decoder(rows, seeds, s)
        return DecodeResult(r.tokens.cpu(), r.logprobs.cpu())

    def _oom_halving(self, run: Callable[[int, int], T], total: int) -> list[T]:
        """run(start, n) over [0, total) in chunks of self.batch_size; out of GPU memory -> halve, retry.

        Rows are batch-independent, so a smaller batch gives the same tokens.
        """
        out, i = [], 0
        while i < total:
            n = min(self.batch_size, total - i)
            try:
                out.append(run(i, n))
            except torch.cuda.OutOfMemoryError:  # = torch.OutOfMemoryError on torch >= 2.5
                if n == 1:
                    raise
                self._halve(n)
                continue
            i += n
        return out

    def _halve(self, n: int) -> None:
        self.decoder.release()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        self.batch_size = max(1, n // 2)
        log.warning("janus: out of GPU memory at batch %d; continuing with batch_size=%d", n, self.batch_size)

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, M) -> (B, H, W, 3) uint8, mapped like the original Janus ((x + 1) / 2 * 255, clipped)."""
        with torch.no_grad():
            parts = self._oom_halving(lambda i, n: self._decode_images(tokens[i : i + n]), tokens.shape[0])
        return torch.cat(parts) if parts else torch.zeros(0, 0, 0, 3, dtype=torch.uint8)

    def _decode_images(self, tokens: torch.Tensor) -> torch.Tensor:
        pix = self.model.decode_image_tokens(tokens.to(self.device))  # (b, H, W, 3) in [-1, 1]
        return ((pix.float() + 1) * 127.5).clamp(0, 255).to(torch.uint8).cpu()

    # --- understanding ----------------------------------------------------------------
    @torch.no_grad()
    def answer(self, images: torch.Tensor, questions: Sequence[str], max_new_tokens: int = 16) -> list[str]:
        """Greedy answers with transformers' text-mode generate (chat template, default system prompt)."""
        with self._eval():
            chunks = self._oom_halving(
                lambda i, n: self._answer(images[i : i + n], questions[i : i + n], max_new_tokens), len(questions)
            )
        return [a for chunk in chunks for a in chunk]

    def _answer(self, images: torch.Tensor, questions: Sequence[str], max_new_tokens: int) -> list[str]:
        inputs = self._to_device(understanding_inputs(self.processor, images, questions))
        width = inputs["input_ids"].shape[1]
        out = self.model.generate(**inputs, generation_mode="text", **self._greedy_kwargs(width + max_new_tokens))
        new = out[:, width:]  # (B, <= max_new_tokens)
        return [a.strip() for a in self.processor.tokenizer.batch_decode(new, skip_special_tokens=True)]

    def _greedy_kwargs(self, max_length: int) -> dict[str, Any]:
        """Passed as kwargs, not a GenerationConfig: transformers 5 fills a passed config's unset
        fields from the checkpoint's generation_config (which may say do_sample=True); kwargs win.
        max_length (prompt + new) rather than max_new_tokens, which 5.x warns about next to the
        checkpoint's default max_length."""
        tok = self.processor.tokenizer
        return dict(
            max_length=max_length,
            do_sample=False,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        )

    @torch.no_grad()
    def score_probs(self, images: torch.Tensor, questions: Sequence[str]) -> list[float]:
        """P("1") / (P("1") + P("0")) at the token after the assistant's " The score is" (see text.ScoreIds)."""
        ids = score_ids(self.processor.tokenizer)
        with self._eval():
            chunks = self._oom_halving(
                lambda i, n: self._score(images[i : i + n], questions[i : i + n], ids), len(questions)
            )
        return [p for chunk in chunks for p in chunk]

    def _score(self, images: torch.Tensor, questions: Sequence[str], ids: Any) -> list[float]:
        inputs = self._to_device(understanding_inputs(self.processor, images, questions, ids.prefix, ids.extra))
        logits = self.model(**inputs, logits_to_keep=1).logits[:, -1].float()  # (B, V)
        return logits[:, [ids.one, ids.zero]].softmax(-1)[:, 0].tolist()

    def answer_logprobs(self, images: torch.Tensor, questions: Sequence[str], answers: Sequence[str]) -> torch.Tensor:
        """Teacher-forced log p(answer | image, question), the chat layout of `answer`: (B,), differentiable
        (lmms-eval multiple-choice tasks, `improve.und_weight`)."""
        return rowwise_answer_logprobs(
            self.processor.tokenizer,
            images,
            questions,
            answers,
            lambda img, q, ids: self._to_device(understanding_inputs(self.processor, img, [q], extra_ids=ids)),
            lambda inputs: self.model(**inputs).logits,
        )

    def _to_device(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = {k: v.to(self.device) for k, v in inputs.items()}
        out["pixel_values"] = out["pixel_values"].to(self.decoder.dtype)
        return out

    # --- training support -------------------------------------------------------------
    def image_logprobs(self, prompts: Sequence[str], tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced log p(tokens | prompt), conditional, no CFG: (B, M) -> (B,). Differentiable."""
        return self.image_token_logprobs(prompts, tokens).sum(-1)

    def image_token_logprobs(self, prompts: Sequence[str], tokens: torch.Tensor) -> torch.Tensor:
        """Per-token teacher-forced log-probs (B, M), through generation_head, left-padding safe."""
        ids, valid = left_pad(generation_rows(self.processor, prompts), self.special.pad)  # (B, P)
        ids, valid, tokens = ids.to(self.device), valid.to(self.device), tokens.to(self.device)
        emb = torch.cat(
            [self.model.get_input_embeddings()(ids), self.model.prepare_embeddings_for_image_generation(tokens)], 1
        )  # (B, P + M, C)
        mask = torch.cat([valid.long(), torch.ones_like(tokens)], 1)  # (B, P + M)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # same positions as in decoding
        h = self.model.model.language_model(
            inputs_embeds=emb, attention_mask=mask, position_ids=positions, use_cache=False
        )
        logits = self.model.model.generation_head(h.last_hidden_state[:, ids.shape[1] - 1 : -1]).float()  # (B, M, V)
        return logits.log_softmax(-1).gather(-1, tokens[..., None]).squeeze(-1)  # (B, M)

    def module(self) -> nn.Module:
        return self.model

    def components(self) -> dict[str, list[nn.Parameter]]:
        m = self.model.model
        groups = {
            "llm": m.language_model,
            "gen_aligner": m.generation_aligner,
            "gen_head": m.generation_head,
            "gen_embed": m.generation_embeddings,
            "vq": m.vqmodel,
        }
        out = {name: list(mod.parameters()) for name, mod in groups.items()}
        out["vision"] = list(m.vision_model.parameters()) + list(m.aligner.parameters())
        if self.peft is not None:
            out["lora"] = [p for n, p in m.language_model.named_parameters() if "lora_" in n]
        return out

    def fingerprint(self) -> dict[str, Any]:
        cfg = self.model.config
        return {
            "backend": "janus",
            "path": self.path,
            "num_image_tokens": self.num_image_tokens,
            "codebook_size": cfg.vq_config.num_embeddings,
            "text_vocab": cfg.text_config.vocab_size,
            "tokenizer_size": len(self.processor.tokenizer),
            "processor_sha256": processor_hash(self.processor),
            **({"source_sha256": self.source_sha256} if self.source_sha256 else {}),
        }

    def save(self, path: Path, merge_lora: bool = True, state_dict: dict[str, torch.Tensor] | None = None) -> None:
        """A directory that JanusForConditionalGeneration / JanusProcessor.from_pretrained (and
        `load_janus`) load. state_dict: weights to write instead of the live module's (the trainer
        passes the full state dict gathered from FSDP shards)."""
        from unigap.models.janus.lora import save_model

        save_model(self.model, self.processor, Path(path), self.peft, merge_lora, state_dict)

    def apply_lora(
        self, r: int = 16, alpha: float = 32, target_modules: Sequence[str] | None = None, dropout: float = 0.0
    ) -> list[nn.Parameter]:
        """PEFT LoRA on the language model; every other weight frozen. Returns the LoRA params."""
        from unigap.models.janus.lora import DEFAULT_TARGETS, apply_lora

        if self.peft is not None:
            raise ValueError("LoRA is already applied to this backend")
        self.peft, params = apply_lora(self.model, r, alpha, target_modules or DEFAULT_TARGETS, dropout)
        return params

    def enable_gradient_checkpointing(self) -> None:
        """Recompute the language model's decoder layers in backward (transformers' checkpointing,
        non-reentrant: works with frozen inputs, LoRA and DDP). Only the training loss path
        (image_token_logprobs, in train mode) is affected; decoding runs the layers by hand."""
        checkpoint_layers(self.model.model.language_model)

    def _eval(self) -> contextlib.AbstractContextManager:
        return eval_mode(self.model)


def processor_hash(processor: Any) -> str:
    """sha256 of what turns prompts and images into model inputs: image-processor settings, chat
    template, image tokens per image, system-prompt flag and the tokenizer's vocabulary."""
    config = {
        "image_processor": processor.image_processor.to_dict(),
        "chat_template": processor.chat_template,
        "num_image_tokens": processor.num_image_tokens,
        "use_default_system_prompt": getattr(processor, "use_default_system_prompt", None),
        "vocab": sorted(processor.tokenizer.get_vocab().items()),
    }
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def compile_mode(cfg: ModelConfig) -> CompileMode:
    """`model.compile` when set (not "none"), else $UNIGAP_JANUS_COMPILE, else eager ("none")."""
    mode = getattr(cfg, "compile", "none")
    if mode in (None, "none"):
        mode = os.environ.get("UNIGAP_JANUS_COMPILE", "none")
    if mode not in ("none", "cuda_graphs", "torch_compile"):
        from unigap.errors import ConfigError

        raise ConfigError(f"janus compile mode {mode!r}; valid: none, cuda_graphs, torch_compile")
    return mode  # type: ignore[return-value]


def load_janus(cfg: ModelConfig, options: Any = None) -> JanusBackend:
    from unigap.errors import require

    require("transformers", "hf", "the janus backend")
    path = cfg.path or DEFAULT_PATH
    device = torch.device(cfg.device)
    found = resolve_checkpoint(path)  # the original deepseek-ai format: converted once, cached
    model, processor = load_pretrained(found.path, device, resolve_dtype(cfg.dtype, device))
    return JanusBackend(model, processor, path, cfg.batch_size, compile_mode(cfg), found.source_sha256)
