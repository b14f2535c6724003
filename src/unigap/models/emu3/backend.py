"""`model.name: emu3`: Emu3 (transformers' `Emu3ForConditionalGeneration`) behind `UnifiedModel`.

Images come from our own decode loop (decode.py); judgments from the understanding model's
forward / text `generate` with its chat template. `model.path` is the generation fine-tune
(Emu3-Gen); `options.understanding_path` optionally a second fine-tune (Emu3-Chat) that judges.
Tokens crossing the protocol are VQ codebook indices (B, M = H*W), row-major.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from unigap.errors import CheckpointError
from unigap.models.base import Generation, ModelConfig, SamplingConfig, UnifiedModel
from unigap.models.common import eval_mode, rowwise_answer_logprobs
from unigap.models.emu3.decode import DecodeResult, DecodeSettings, Emu3Decoder, Layout, Sampler
from unigap.models.emu3.options import Emu3Options
from unigap.models.emu3.text import generation_rows, negative_row, understanding_inputs

log = logging.getLogger(__name__)
DEFAULT_PATH = "BAAI/Emu3-Gen-hf"
DEFAULT_AREA = 518400  # Emu3Processor.image_area
ROLE_FILE = "unigap_emu3.json"


class Emu3Backend(UnifiedModel):
    name = "emu3"

    def __init__(
        self,
        model: Any,
        processor: Any,
        path: str,
        options: Emu3Options,
        batch_size: int = 8,
        und: tuple[Any, Any, str] | None = None,
        image_area: int = DEFAULT_AREA,
    ) -> None:
        self.model, self.processor, self.path, self.options = model, processor, path, options
        self.und_model, self.und_processor, self.und_path = und or (model, processor, path)
        self.batch_size = max(1, batch_size)
        self.image_area = options.image_area or image_area
        h, w = processor.calculate_generate_size(options.ratio, self.image_area, processor.downsample_ratio)
        self.layout = Layout(h, w, model.vocabulary_mapping.eol_token_id)
        self.num_image_tokens = self.layout.num_visual
        self.default_sampling = SamplingConfig(cfg_scale=3.0, temperature=1.0, top_k=2048)  # BAAI's demo settings
        self.decoder = Emu3Decoder(model, processor.tokenizer.pad_token_id, self.layout)
        self.peft: Any = None

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
        """Image tokens (B, M: VQ codes) and their sampling log-probs, on the CPU. `multinomial` = parity tests only."""
        if len(prompts) != len(seeds):
            raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
        s = DecodeSettings(sampling.cfg_scale, sampling.temperature, sampling.top_k, sampler)
        rows, neg = self.rows(prompts), negative_row(self.processor, self.options.negative_prompt)
        parts = []
        with eval_mode(self.model):
            for i in range(0, len(rows), self.batch_size):
                r = self.decoder(rows[i : i + self.batch_size], neg, seeds[i : i + self.batch_size], s)
                parts.append(DecodeResult(r.tokens.cpu(), r.logprobs.cpu()))
        if not parts:
            empty = torch.zeros(0, self.num_image_tokens)
            return DecodeResult(empty.long(), empty)
        return DecodeResult(torch.cat([p.tokens for p in parts]), torch.cat([p.logprobs for p in parts]))

    def rows(self, prompts: Sequence[str]) -> list[list[int]]:
        texts = [p + self.options.positive_suffix for p in prompts]
        return generation_rows(self.processor, texts, self.image_area, self.options.ratio) if texts else []

    @torch.no_grad()
    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, M) codes -> (B, H, W, 3) uint8 through the VQ decoder and the processor's postprocess."""
        out = []
        for i in range(0, tokens.shape[0], self.batch_size):
            codes = tokens[i : i + self.batch_size].to(self.device).view(-1, self.layout.height, self.layout.width)
            pix = self.model.model.vqmodel.decode(codes)  # (b, 3, H', W') in [-1, 1]
            pil = self.processor.postprocess(list(pix.float().cpu()), return_tensors="PIL.Image.Image")
            pil = pil["pixel_values"] if isinstance(pil, dict) or hasattr(pil, "keys") else pil
            out.append(torch.from_numpy(np.stack([np.asarray(p.convert("RGB")) for p in pil])))
        return torch.cat(out) if out else torch.zeros(0, 0, 0, 3, dtype=torch.uint8)

    # --- understanding ----------------------------------------------------------------
    @torch.no_grad()
    def answer(self, images: torch.Tensor, questions: Sequence[str], max_new_tokens: int = 16) -> list[str]:
        """Greedy answers of the understanding model (transformers' text generate, chat template)."""
        out: list[str] = []
        with eval_mode(self.und_model):
            for i in range(0, len(questions), self.batch_size):
                out += self._answer(images[i : i + self.batch_size], questions[i : i + self.batch_size], max_new_tokens)
        return out

    def _answer(self, images: torch.Tensor, questions: Sequence[str], max_new_tokens: int) -> list[str]:
        inputs = self._to_device(understanding_inputs(self.und_processor, images, questions))
        width = inputs["input_ids"].shape[1]
        tok = self.und_processor.tokenizer
        out = self.und_model.generate(
            **inputs,
            max_length=width + max_new_tokens,
            do_sample=False,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        )
        return [a.strip() for a in tok.batch_decode(out[:, width:], skip_special_tokens=True)]

    @torch.no_grad()
    def score_probs(self, images: torch.Tensor, questions: Sequence[str]) -> list[float]:
        """P("1") / (P("1") + P("0")) at the token after the assistant's " The score is"."""
        from unigap.models.janus.text import score_ids

        ids, out = score_ids(self.und_processor.tokenizer), []
        with eval_mode(self.und_model):
            for i in range(0, len(questions), self.batch_size):
                inputs = self._to_device(
                    understanding_inputs(
                        self.und_processor,
                        images[i : i + self.batch_size],
                        questions[i : i + self.batch_size],
                        ids.prefix,
                        ids.extra,
                    )
                )
                logits = self.und_model(**inputs, logits_to_keep=1).logits[:, -1].float()  # (b, V)
                out += logits[:, [ids.one, ids.zero]].softmax(-1)[:, 0].tolist()
        return out

    def answer_logprobs(self, images: torch.Tensor, questions: Sequence[str], answers: Sequence[str]) -> torch.Tensor:
        """Teacher-forced log p(answer | image, question) under the understanding model: (B,), differentiable."""
        return rowwise_answer_logprobs(
            self.und_processor.tokenizer,
            images,
            questions,
            answers,
            lambda img, q, ids: self._to_device(understanding_inputs(self.und_processor, img, [q], extra_ids=ids)),
            lambda inputs: self.und_model(**inputs).logits,
        )

    def _to_device(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = {k: v.to(self.und_model.device) for k, v in inputs.items()}
        out["pixel_values"] = out["pixel_values"].to(self.und_model.dtype)
        return out

    # --- training support -------------------------------------------------------------
    def image_logprobs(self, prompts: Sequence[str], tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced log p(codes | prompt), conditional, no CFG: (B, M) -> (B,). Differentiable."""
        return self.image_token_logprobs(prompts, tokens).sum(-1)

    def image_token_logprobs(self, prompts: Sequence[str], tokens: torch.Tensor) -> torch.Tensor:
        """Per-token log-probs (B, M) over the visual tokens (the distribution the decoder samples
        from at temperature 1 without CFG), line ends fed as context; left-padding safe."""
        from unigap.models.janus.decode import left_pad

        lay, dec = self.layout, self.decoder
        ids, valid = left_pad(self.rows(prompts), self.processor.tokenizer.pad_token_id)  # (B, P)
        seq = lay.bpe_rows(dec.visual[dec.col_of_code[tokens.to(self.device)]])  # (B, S) BPE ids with line ends
        ids, valid, seq = ids.to(self.device), valid.to(self.device), seq.to(self.device)
        full = torch.cat([ids, seq], 1)  # (B, P + S)
        mask = torch.cat([valid.long(), torch.ones_like(seq)], 1)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        h = self.model.model.text_model(
            input_ids=full, attention_mask=mask, position_ids=positions, use_cache=False
        ).last_hidden_state  # (B, P + S, C)
        where = ids.shape[1] - 1 + visual_positions(lay).to(self.device)  # (M,) inputs predicting a visual token
        w_vis = dec.visual_head()  # (V_img, C)
        logits = (h[:, where] @ w_vis.T).float()  # (B, M, V_img)
        cols = dec.col_of_code[tokens.to(self.device)]  # (B, M)
        return logits.log_softmax(-1).gather(-1, cols[..., None]).squeeze(-1)

    def module(self) -> nn.Module:
        return self.model

    def components(self) -> dict[str, list[nn.Parameter]]:
        m = self.model.model
        out = {
            "llm": list(m.text_model.parameters()),
            "lm_head": list(self.model.lm_head.parameters()),
            "vq": list(m.vqmodel.parameters()),
        }
        if self.peft is not None:
            out["lora"] = [p for n, p in m.text_model.named_parameters() if "lora_" in n]
        return out

    def fingerprint(self) -> dict[str, Any]:
        cfg = self.model.config
        fp = {
            "backend": "emu3",
            "path": self.path,
            "understanding_path": self.und_path,
            "num_image_tokens": self.num_image_tokens,
            "height_tokens": self.layout.height,
            "width_tokens": self.layout.width,
            "codebook_size": cfg.vq_config.codebook_size,
            "text_vocab": cfg.text_config.vocab_size,
            "processor_sha256": processor_hash(self.processor),
        }
        if self.und_path != self.path:
            fp["understanding_processor_sha256"] = processor_hash(self.und_processor)
        return fp

    def save(self, path: Path, merge_lora: bool = True, state_dict: dict[str, torch.Tensor] | None = None) -> None:
        """A directory Emu3ForConditionalGeneration / Emu3Processor (and load_emu3) load: the generator."""
        from unigap.models.janus.lora import merged_state_dict

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = state_dict if state_dict is not None else (merged_state_dict(self.model) if self.peft else None)
        self.model.save_pretrained(path, state_dict=state)
        self.processor.save_pretrained(path)
        (path / ROLE_FILE).write_text(json.dumps({"role": "gen", "image_area": self.image_area}))

    def apply_lora(
        self, r: int = 16, alpha: float = 32, target_modules: Sequence[str] | None = None, dropout: float = 0.0
    ) -> list[nn.Parameter]:
        """PEFT LoRA on the generator's text model; every other weight frozen. Returns the LoRA params."""
        from peft import LoraConfig, get_peft_model

        if self.peft is not None:
            raise ValueError("LoRA is already applied to this backend")
        targets = list(target_modules or ("q_proj", "k_proj", "v_proj", "o_proj"))
        self.peft = get_peft_model(
            self.model.model.text_model, LoraConfig(r=r, lora_alpha=alpha, target_modules=targets, lora_dropout=dropout)
        )
        for name, p in self.model.named_parameters():
            p.requires_grad_("lora_" in name)
        return [p for p in self.model.parameters() if p.requires_grad]

    def enable_gradient_checkpointing(self) -> None:
        """Recompute the text model's decoder layers in backward (non-reentrant); decoding is unaffected."""
        lm, kwargs = self.model.model.text_model, {"use_reentrant": False}
        if hasattr(lm, "activation_checkpointing_enable"):
            lm.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def visual_positions(lay: Layout) -> torch.Tensor:
    """Indices t (0 = first generated token) of the M visual tokens in the generated sequence; the
    hidden state at input position P - 1 + t predicts token t."""
    t = torch.arange(lay.steps)
    return t[(t % (lay.width + 1)) != lay.width]


def processor_hash(processor: Any) -> str:
    """sha256 of what turns prompts and images into model inputs (image processor, chat template, vocabulary)."""
    config = {
        "image_processor": processor.image_processor.to_dict(),
        "chat_template": processor.chat_template,
        "vocab": sorted(processor.tokenizer.get_vocab().items()),
    }
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def read_role(path: str) -> dict[str, Any]:
    """What a synthetic/saved checkpoint says it is ({"role": "gen"|"chat", "image_area": ...}), else {}."""
    f = Path(path) / ROLE_FILE
    return json.loads(f.read_text()) if f.is_file() else {}


def check_generator(path: str) -> None:
    """A chat-only fine-tune cannot draw: say which checkpoint generates."""
    role = read_role(path).get("role")
    if role == "chat" or (role is None and "chat" in Path(path).name.lower()):
        raise CheckpointError(
            f"model.path {path!r} is an Emu3 chat (understanding) fine-tune and does not generate images; "
            f"set model.path to the generation fine-tune (e.g. {DEFAULT_PATH}) and put the chat model in "
            f"model.options.understanding_path"
        )


def check_is_emu3(path: str) -> None:
    from unigap.models.common import read_config_dict

    found = read_config_dict(path).get("model_type")
    if found != "emu3":
        raise CheckpointError(
            f"{path} is not an Emu3 checkpoint: its config has model_type {found!r}, expected "
            f"'emu3' (transformers' Emu3ForConditionalGeneration format, e.g. {DEFAULT_PATH})"
        )


def load_pretrained(path: str, device: torch.device, dtype: torch.dtype) -> tuple[Any, Any]:
    from transformers import Emu3ForConditionalGeneration, Emu3Processor

    from unigap.models.common import dtype_kwarg

    check_is_emu3(path)
    processor = Emu3Processor.from_pretrained(path)
    processor.tokenizer.padding_side = "left"
    model = Emu3ForConditionalGeneration.from_pretrained(path, **dtype_kwarg(dtype), device_map=str(device))
    return model.eval(), processor


def load_emu3(cfg: ModelConfig, options: Emu3Options | None = None) -> Emu3Backend:
    from unigap.models.common import resolve_dtype

    options = options or Emu3Options.model_validate(getattr(cfg, "options", {}) or {})
    path, device = cfg.path or DEFAULT_PATH, torch.device(cfg.device)
    dtype = resolve_dtype(cfg.dtype, device)
    check_generator(path)
    model, processor = load_pretrained(path, device, dtype)
    und = None
    if options.understanding_path and options.understanding_path != path:
        und = (*load_pretrained(options.understanding_path, device, dtype), options.understanding_path)
    area = read_role(path).get("image_area", DEFAULT_AREA)
    return Emu3Backend(model, processor, path, options, cfg.batch_size, und, area)
