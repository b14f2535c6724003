"""`--judge sciscore`: Science-T2I's SciScore (`Jialuo21/SciScore`, a CLIP-style reward model).

As Science-T2I's eval/eval_t2i_with_SciScore.py scores a generated image: the model's image and
text embeddings, each L2-normalised, cosine times `logit_scale.exp()`, against the prompt the
image was generated from being judged by the **implicit** prompt (for Science-T2I prompts the
prompt text is the implicit prompt; ShapeWorld's hard prompts are implicit too). Images and text
are prepared as CLIP's processor does (bicubic shorter-side resize to the model's image size,
centre crop, OpenAI CLIP mean/std; text truncated at 77 tokens, padded).

Score = SciScore (the paper's Science-T2I "Gen." values are of this scale, about 22-27).
Binary verdict (documented rule, not an official one — the benchmark has no per-image pass/fail):
- rule "contrast" (default, when the prompt carries both `explicit_prompt` and
  `superficial_prompt`, as Science-T2I rows do): verdict 1 when SciScore(image, explicit prompt)
  > SciScore(image, superficial prompt), i.e. the image shows the scientifically implied scene
  rather than the literal reading — the same comparison Science-T2I's 2-way choice (eval_vlm.py)
  asks of a model between an explicit and a superficial image;
- otherwise (or rule "threshold"): verdict 1 when SciScore >= `threshold`.
"""

from __future__ import annotations

import json
from typing import Any, Literal, Sequence

import numpy as np
import torch
from pydantic import Field

from unigap.config import Config
from unigap.errors import UnigapError
from unigap.judges import _clip
from unigap.judges._scorer_hf import as_arrays, check_lengths, failed, load_component, load_pretrained, pick_device
from unigap.judges._scorer_hf import pick_dtype, require, to_pil
from unigap.records import Judgment, Prompt


class SciScoreOptions(Config):
    path: str = "Jialuo21/SciScore"
    device: str | None = None
    dtype: str = "float32"  # the official script scores in float32
    batch_size: int = Field(16, ge=1)
    rule: Literal["contrast", "threshold"] = "contrast"
    threshold: float = 25.0


class SciScoreJudge:
    name = "sciscore"

    def __init__(self, path: str = "Jialuo21/SciScore", device: str | None = None, dtype: str = "float32",
                 batch_size: int = 16, rule: str = "contrast", threshold: float = 25.0) -> None:
        if rule not in ("contrast", "threshold"):
            raise UnigapError(f"sciscore judge: rule must be 'contrast' or 'threshold', not {rule!r}")
        self.path, self.device, self.dtype = str(path), pick_device(device), pick_dtype(dtype, "sciscore judge")
        self.batch_size, self.rule, self.threshold = batch_size, rule, threshold
        self.model: Any = None
        self.tokenizer: Any = None

    def load(self) -> "SciScoreJudge":
        if self.model is None:
            tf = require("transformers")
            self.model = load_pretrained(tf.AutoModel, self.path, "sciscore judge", self.device, self.dtype)
            if not hasattr(self.model, "get_image_features") or not hasattr(self.model, "logit_scale"):
                raise UnigapError(f"sciscore judge: {self.path!r} is not a CLIP-style model "
                                  f"({type(self.model).__name__})")
            self.tokenizer = load_component(tf.AutoTokenizer.from_pretrained, self.path, "sciscore judge")
        return self

    def judge(self, images: torch.Tensor, prompts: Sequence[Prompt]) -> list[Judgment]:
        check_lengths(images, prompts, "sciscore judge")
        arrays = as_arrays(images)
        self.load()
        out: list[Judgment] = []
        for s in range(0, len(prompts), self.batch_size):
            chunk = list(prompts[s:s + self.batch_size])
            try:
                out += self._batch(arrays[s:s + self.batch_size], chunk)
            except (RuntimeError, ValueError) as err:
                out += [failed("sciscore judge", err) for _ in chunk]
        return out

    def scores(self, images: np.ndarray, texts: list[str]) -> list[float]:
        """SciScore of each (image, text) pair: logit_scale.exp() * cosine."""
        img = self._image_features(images)
        return ((img * self._text_features(texts)).sum(-1) * self._scale()).tolist()

    def _image_features(self, images: np.ndarray) -> torch.Tensor:
        pix = _clip.clip_pixels([to_pil(im) for im in images], _clip.image_size(self.model))
        return _clip.image_features(self.model, pix, self.device)  # (B, D)

    def _text_features(self, texts: list[str]) -> torch.Tensor:
        return _clip.text_features(self.model, self.tokenizer, texts, self.device)  # (T, D)

    def _scale(self) -> float:
        return float(self.model.logit_scale.detach().float().exp())

    def _batch(self, images: np.ndarray, prompts: list[Prompt]) -> list[Judgment]:
        """One image forward per image; the implicit, explicit and superficial prompts share it."""
        img, k = self._image_features(images), self._scale()
        texts = [p.text for p in prompts]
        pairs = [self._contrast_texts(p) for p in prompts] if self.rule == "contrast" else [None] * len(prompts)
        extra = [t for pair in pairs if pair for t in pair]
        txt = self._text_features(texts + extra)
        implicit = ((img * txt[:len(texts)]).sum(-1) * k).tolist()
        out, j = [], len(texts)
        for i, (s, pair) in enumerate(zip(implicit, pairs)):
            if pair:
                e, sp = (float(img[i] @ txt[j]) * k, float(img[i] @ txt[j + 1]) * k)
                j += 2
                verdict, raw = int(e > sp), {"rule": "contrast", "explicit": e, "superficial": sp}
            else:
                verdict, raw = int(s >= self.threshold), {"rule": "threshold", "threshold": self.threshold}
            out.append(Judgment(verdict, None, json.dumps({"sciscore": s, **raw}), score=float(s)))
        return out

    @staticmethod
    def _contrast_texts(prompt: Prompt) -> tuple[str, str] | None:
        meta = prompt.metadata or {}
        ep, sp = meta.get("explicit_prompt"), meta.get("superficial_prompt")
        return (ep, sp) if ep and sp else None
