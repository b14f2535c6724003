"""`judges: [{name: qwen2.5-vl}]`: a local Qwen2.5-VL (transformers) as external judge.

The paper's external judge is Qwen2.5-VL-72B; on one GPU use the 7B (72B in bf16 is ~145 GB of
weights: it does not fit an H100) or the `http` judge against a vLLM server.

Inputs are built without `Qwen2_5_VLProcessor`, which cannot be constructed without
torchvision (its video-processor slot fails without it, even with video_processor=None): the PIL
image processor gives `pixel_values` and
`image_grid_thw`, each `<|image_pad|>` is expanded to grid_thw.prod() // merge_size**2 copies,
rows are left-padded by hand, and `mm_token_type_ids` marks the image tokens (without it the
model silently falls back to 1-D positions instead of M-RoPE).

Modes:
- parse: greedy generation, prompt ids trimmed, decoded, `parse_verdict` (None -> "unparsed");
- prob: the assistant turn is prefilled with "The score is" and P(match) is the softmax over
  the logits of the "1" and "0" tokens at the next position; verdict = prob > threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from unigap.errors import UnigapError
from unigap.records import Judgment, Prompt
from unigap.utils import left_pad
from unigap.verdict import ANSWER_PREFIX, judgment_from_answer, question

if TYPE_CHECKING:
    from unigap.judges.base import JudgeConfig
    from unigap.judges.options import QwenOptions

QWEN_SYSTEM = "You are a helpful assistant."  # Qwen2.5-VL's default chat-template system turn
IMAGE_PAD = "<|image_pad|>"
VISION = "<|vision_start|>" + IMAGE_PAD + "<|vision_end|>"


def chat_text(prompt_text: str, n_image_tokens: int, system: str = QWEN_SYSTEM) -> str:
    """Qwen's chat template for one image + question, ending at the assistant turn's start,
    with the image placeholder already expanded to `n_image_tokens` pads."""
    vision = VISION.replace(IMAGE_PAD, IMAGE_PAD * n_image_tokens)
    return (
        f"<|im_start|>system\n{system}<|im_end|>\n"
        f"<|im_start|>user\n{vision}{question(prompt_text)}<|im_end|>\n"
        f"<|im_start|>assistant\n"
    )


def score_token_ids(tokenizer: Any) -> tuple[list[int], int, int]:
    """(prefix ids, id of "1", id of "0") for prob mode.

    The answer "The score is 1" is tokenized whole and compared with "The score is 0": the ids
    they share are the prefill, and the first ids where they differ are the two score tokens.
    This is the last token of tokenizer.encode(" 1") under both tokenizer families:
    Qwen's pre-tokenizer splits digits from the space ("Ġ", "1"), so the prefill ends with the
    space token and the targets are the bare digits; GPT-2-style BPEs merge "Ġ1", so the
    prefill ends at "is" and the targets carry the space. Either way the prefill plus a target
    is exactly how the model would have tokenized its own answer, which is what its next-token
    distribution is about. Prefilling "The score is" and scoring the bare "1" would instead ask
    Qwen for a token that never follows "is" directly.
    """
    ids1 = _encode(tokenizer, f"{ANSWER_PREFIX} 1")
    ids0 = _encode(tokenizer, f"{ANSWER_PREFIX} 0")
    k = 0
    while k < min(len(ids1), len(ids0)) and ids1[k] == ids0[k]:
        k += 1
    if k >= min(len(ids1), len(ids0)):
        raise UnigapError("qwen judge: the tokenizer does not distinguish 'The score is 1' from '... 0'")
    return ids1[:k], ids1[k], ids0[k]


def _encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def torch_dtype(name: str | torch.dtype) -> str | torch.dtype:
    if isinstance(name, torch.dtype) or name == "auto":
        return name
    dtype = getattr(torch, str(name), None)
    if not isinstance(dtype, torch.dtype):
        raise UnigapError(f"qwen judge: unknown dtype {name!r} (use auto, bfloat16, float16 or float32)")
    return dtype


def _dtype_kwarg() -> str:
    """transformers >= 4.56 takes `dtype=`; older versions (still allowed by pyproject) `torch_dtype=`."""
    import transformers
    from packaging.version import Version

    return "dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype"


@dataclass
class _Batch:
    inputs: dict[str, torch.Tensor]
    prompt_len: int


class QwenJudge:
    """Local Qwen2.5-VL judge.

    path: hub id or local directory (model + tokenizer + image processor); device: "cpu",
    "cuda", "cuda:1", or "auto" (accelerate shards over the visible GPUs); None picks cuda if
    available; dtype: auto | bfloat16 | float16 | float32; batch_size: images per forward;
    mode: parse | prob; threshold: prob-mode verdict = prob > threshold; max_new_tokens: parse
    mode's answer length; min_pixels / max_pixels: the image processor's resize bounds
    (None keeps the saved ones). The model is loaded on first use (or by `load()`), so that
    building a judge does not take GPU memory while the audited model is still generating.
    """

    name = "qwen2.5-vl"

    def __init__(
        self,
        path: str = "Qwen/Qwen2.5-VL-7B-Instruct",
        device: str | None = None,
        dtype: str = "auto",
        batch_size: int = 8,
        mode: Literal["parse", "prob"] = "parse",
        threshold: float = 0.5,
        max_new_tokens: int = 16,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        system: str = QWEN_SYSTEM,
    ) -> None:
        if mode not in ("parse", "prob"):
            raise UnigapError(f"qwen judge: mode must be 'parse' or 'prob', not {mode!r}")
        if batch_size < 1:
            raise UnigapError("qwen judge: batch_size must be >= 1")
        self.path, self.device, self.dtype = str(path), device, torch_dtype(dtype)
        self.batch_size, self.mode, self.threshold = batch_size, mode, threshold
        self.max_new_tokens, self.min_pixels, self.max_pixels, self.system = (
            max_new_tokens,
            min_pixels,
            max_pixels,
            system,
        )
        self.model: Any = None
        self.tokenizer: Any = None
        self.image_processor: Any = None

    # ---- loading -----------------------------------------------------------------------

    def load(self) -> QwenJudge:
        if self.model is not None:
            return self
        from transformers import AutoTokenizer, Qwen2_5_VLForConditionalGeneration

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.path)
            self.image_processor = self._load_image_processor()
            self.model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
                self.path, device_map=self._device_map(), **{_dtype_kwarg(): self.dtype}
            ).eval()
        except OSError as err:  # missing dir, hub id offline, missing files
            raise UnigapError(f"qwen judge: cannot load {self.path!r}: {err}") from None
        return self

    def _load_image_processor(self) -> Any:
        # The PIL processor directly: AutoImageProcessor would pick the torchvision one when
        # torchvision is importable, and the CPU environments we target have none that works.
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

        bounds = {k: v for k, v in (("min_pixels", self.min_pixels), ("max_pixels", self.max_pixels)) if v is not None}
        return Qwen2VLImageProcessorPil.from_pretrained(self.path, **bounds)

    def _device_map(self) -> str:
        if self.device is None:
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device

    @property
    def _input_device(self) -> torch.device:
        # With device_map="auto" the embeddings sit on the first device; model.device reports it.
        return self.model.device

    # ---- judging -------------------------------------------------------------------------

    def judge(self, images: torch.Tensor, prompts: Sequence[Prompt]) -> list[Judgment]:
        """One Judgment per image, in order, `batch_size` images per forward."""
        if len(images) != len(prompts):
            raise UnigapError(f"qwen judge: {len(images)} images but {len(prompts)} prompts")
        self.load()
        arrays = images.cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
        out: list[Judgment] = []
        for s in range(0, len(prompts), self.batch_size):
            out += self._judge_batch(arrays[s : s + self.batch_size], list(prompts[s : s + self.batch_size]))
        return out

    def _judge_batch(self, images: np.ndarray, prompts: list[Prompt]) -> list[Judgment]:
        try:
            return self._prob(images, prompts) if self.mode == "prob" else self._parse(images, prompts)
        except (RuntimeError, ValueError) as err:  # e.g. CUDA OOM on one batch: fail its items, go on
            msg = f"qwen judge: {type(err).__name__}: {str(err)[:300]}"
            return [Judgment(None, None, "", "failed", msg) for _ in prompts]

    def encode(self, images: np.ndarray, prompts: list[Prompt], suffix: list[int] | None = None) -> _Batch:
        """Model inputs for a batch; `suffix` ids (prob mode's prefill) are appended to every row."""
        from PIL import Image

        pil = [Image.fromarray(np.ascontiguousarray(im, dtype=np.uint8)) for im in images]
        vis = self.image_processor(images=pil, return_tensors="pt")
        merge = int(self.image_processor.merge_size)
        counts = (vis["image_grid_thw"].prod(-1) // merge**2).tolist()
        rows = [
            _encode(self.tokenizer, chat_text(p.text, n, self.system)) + (suffix or []) for p, n in zip(prompts, counts)
        ]
        ids, valid = left_pad(rows, self._pad_id())  # (B, T): every row's next token at the end
        image_id = self.model.config.image_token_id
        inputs = {
            "input_ids": ids,
            "attention_mask": valid.long(),
            "pixel_values": vis["pixel_values"],
            "image_grid_thw": vis["image_grid_thw"],
            "mm_token_type_ids": (ids == image_id).int(),
        }
        return _Batch({k: v.to(self._input_device) for k, v in inputs.items()}, ids.shape[1])

    def _pad_id(self) -> int:
        tok = self.tokenizer
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        if pad is None:
            raise UnigapError("qwen judge: the tokenizer has neither a pad nor an eos token")
        return int(pad)

    @torch.inference_mode()
    def _parse(self, images: np.ndarray, prompts: list[Prompt]) -> list[Judgment]:
        batch = self.encode(images, prompts)
        out = self.model.generate(
            **batch.inputs,
            do_sample=False,
            max_new_tokens=self.max_new_tokens,
            pad_token_id=self._pad_id(),
            **self._greedy_overrides(),
        )
        texts = self.tokenizer.batch_decode(out[:, batch.prompt_len :], skip_special_tokens=True)
        return [judgment_from_answer(t.strip()) for t in texts]

    def _greedy_overrides(self) -> dict:
        # Qwen's generation_config ships sampling settings (top_k, top_p, temperature); unset
        # them so greedy decoding does not warn about unused sampling flags.
        gc = self.model.generation_config
        return {k: None for k in ("temperature", "top_p", "top_k") if getattr(gc, k, None) is not None}

    @torch.inference_mode()
    def _prob(self, images: np.ndarray, prompts: list[Prompt]) -> list[Judgment]:
        prefix, one, zero = score_token_ids(self.tokenizer)
        batch = self.encode(images, prompts, suffix=prefix)
        logits = self.model(**batch.inputs, logits_to_keep=1).logits[:, -1].float()
        logp = torch.log_softmax(logits, -1)
        p1, p0 = logp[:, one].exp().tolist(), logp[:, zero].exp().tolist()
        # softmax over the two logits = sigmoid(l1 - l0): stable even when both are tiny
        probs = torch.sigmoid(logits[:, one] - logits[:, zero]).tolist()
        return [
            Judgment(int(p > self.threshold), float(p), f"P(1)={a:.4g} P(0)={b:.4g}") for p, a, b in zip(probs, p1, p0)
        ]


def qwen_judge(cfg: JudgeConfig, options: QwenOptions) -> QwenJudge:
    """The registry's factory of `judges: [{name: qwen2.5-vl}]`."""
    return QwenJudge(**options.model_dump())
