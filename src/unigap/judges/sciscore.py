"""`--judge sciscore`: Science-T2I's SciScore (`Jialuo21/SciScore`, a CLIP-style reward model).

Score (Science-T2I eval/eval_t2i_with_SciScore.py @ 024e5dd, `SciScore.forward`): the model's image
and text embeddings, each L2-normalised, cosine times `logit_scale.exp()`, of the image against the
**implicit** prompt (for Science-T2I prompts the prompt text is the implicit prompt; ShapeWorld's
hard prompts are implicit too). Preprocessing is that of the official `AutoProcessor` at the pinned
transformers 4.50.3 (the slow `CLIPImageProcessor`: bicubic shorter side to the model's image
size, centre crop with the top/left margin floored, OpenAI CLIP mean/std; `_clip` style "hf"); text
padded and truncated at 77 tokens. The paper's Science-T2I "Gen." values are of this scale (22-27).

Science-T2I's own binary decision is the **two-way choice** (eval/eval_vlm.py): for the implicit
prompt, softmax over the SciScores of two images (the explicit image, the superficial image); the
choice is right when the first probability is strictly larger. `two_way` / `two_way_accuracy`
reproduce it. A generated image has no such pair, so the judge's per-image verdict is one of:
- rule "two_way" (the official comparison, needs `reference`: the Science-T2I-S/C parquet file the
  prompts were loaded from, with its image columns): the candidate in the explicit image's place
  against that row's superficial image (`superficial_image[0]`); verdict 1 when SciScore prefers
  the candidate;
- rule "prompt_contrast" (default; unigap's rule, not an official one): verdict 1 when
  SciScore(image, explicit prompt) > SciScore(image, superficial prompt), i.e. one image against two
  texts (the image shows the scientifically implied scene rather than the literal reading); taken
  when the prompt carries both prompts, as Science-T2I rows do, else the threshold rule;
- rule "threshold": verdict 1 when SciScore >= `threshold`.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from pydantic import Field, field_validator

from unigap.config import Config
from unigap.errors import DataError, UnigapError
from unigap.judges import _clip
from unigap.judges._scorer_hf import (
    as_arrays,
    check_lengths,
    failed,
    load_component,
    load_pretrained,
    pick_device,
    pick_dtype,
    require,
    to_pil,
)
from unigap.records import Judgment, Prompt

if TYPE_CHECKING:
    from unigap.judges.base import JudgeConfig

RULES = ("prompt_contrast", "two_way", "threshold")
RENAMED = {
    "contrast": "'contrast' was renamed 'prompt_contrast' (one image against the explicit and superficial "
    "prompts: unigap's rule); Science-T2I's own two-way choice (two images against the implicit "
    "prompt) is rule 'two_way'"
}


class SciScoreOptions(Config):
    path: str = "Jialuo21/SciScore"
    device: str | None = None
    dtype: str = "float32"  # the official script scores in float32
    batch_size: int = Field(16, ge=1)
    rule: Literal["prompt_contrast", "two_way", "threshold"] = "prompt_contrast"
    threshold: float = 25.0
    reference: str | None = None  # rule two_way: the Science-T2I parquet file with its image columns

    renamed_values = {"rule": {"prompt-contrast": "prompt_contrast", "two-way": "two_way"}}

    @field_validator("rule", mode="before")
    @classmethod
    def _renamed(cls, v: Any) -> Any:
        if v in RENAMED:
            raise ValueError(RENAMED[v])
        return v


def renamed_rule(rule: str) -> str:
    """A rule under its old spelling (`prompt-contrast`, `two-way`): the new one, with a FutureWarning."""
    new = SciScoreOptions.renamed_values["rule"].get(rule)
    if new is None:
        return rule
    warnings.warn(
        f"sciscore judge: rule {rule!r} is now {new!r} (the old name still works, for now; a later unigap "
        "will refuse it)",
        FutureWarning,
        stacklevel=3,
    )
    return new


class SciScoreJudge:
    name = "sciscore"

    def __init__(
        self,
        path: str = "Jialuo21/SciScore",
        device: str | None = None,
        dtype: str = "float32",
        batch_size: int = 16,
        rule: str = "prompt_contrast",
        threshold: float = 25.0,
        reference: str | None = None,
    ) -> None:
        rule = renamed_rule(rule)
        if rule not in RULES:
            raise UnigapError(f"sciscore judge: {RENAMED.get(rule) or f'rule must be one of {RULES}, not {rule!r}'}")
        if rule == "two_way" and not reference:
            raise UnigapError(
                "sciscore judge: rule 'two_way' needs reference=<the Science-T2I parquet file with its "
                "superficial_image column>"
            )
        self.path, self.device, self.dtype = str(path), pick_device(device), pick_dtype(dtype, "sciscore judge")
        self.batch_size, self.rule, self.threshold = batch_size, rule, threshold
        self.reference = References(reference) if rule == "two_way" else None
        self.model: Any = None
        self.tokenizer: Any = None

    def load(self) -> SciScoreJudge:
        if self.model is None:
            tf = require("transformers")
            self.model = load_pretrained(tf.AutoModel, self.path, "sciscore judge", self.device, self.dtype)
            if not hasattr(self.model, "get_image_features") or not hasattr(self.model, "logit_scale"):
                raise UnigapError(
                    f"sciscore judge: {self.path!r} is not a CLIP-style model ({type(self.model).__name__})"
                )
            self.tokenizer = load_component(tf.AutoTokenizer.from_pretrained, self.path, "sciscore judge")
        return self

    def check_prompts(self, prompts: Sequence[Prompt]) -> None:
        """Rule two_way: every prompt's reference row exists and has this implicit prompt (before judging)."""
        if self.reference is not None:
            for p in prompts:
                self.reference.check(p)

    def judge(self, images: torch.Tensor, prompts: Sequence[Prompt]) -> list[Judgment]:
        check_lengths(images, prompts, "sciscore judge")
        arrays = as_arrays(images)
        self.load()
        out: list[Judgment] = []
        for s in range(0, len(prompts), self.batch_size):
            chunk = list(prompts[s : s + self.batch_size])
            try:
                out += self._batch(arrays[s : s + self.batch_size], chunk)
            except (RuntimeError, ValueError) as err:
                out += [failed("sciscore judge", err) for _ in chunk]
        return out

    # ---- the official computations ---------------------------------------------------------------

    def scores(self, images: Sequence[Any], texts: list[str]) -> list[float]:
        """SciScore of each (image, text) pair: logit_scale.exp() * cosine."""
        img = self._image_features(images)
        return ((img * self._text_features(texts)).sum(-1) * self._scale()).tolist()

    def two_way(self, implicit_prompt: str, images: Sequence[Any]) -> list[float]:
        """eval_vlm.calculate_similarity: softmax over the SciScores of the images against the prompt."""
        self.load()
        scores = (self._image_features(images) @ self._text_features([implicit_prompt])[0]) * self._scale()
        return torch.softmax(scores, dim=-1).tolist()

    def _image_features(self, images: Sequence[Any]) -> torch.Tensor:
        pils = [im if hasattr(im, "convert") else to_pil(im) for im in images]
        pix = _clip.clip_pixels(pils, _clip.image_size(self.model), style="hf")
        return _clip.image_features(self.model, pix, self.device)  # (B, D)

    def _text_features(self, texts: list[str]) -> torch.Tensor:
        return _clip.text_features(self.model, self.tokenizer, texts, self.device)  # (T, D)

    def _scale(self) -> float:
        return float(self.model.logit_scale.detach().float().exp())

    # ---- verdicts ---------------------------------------------------------------------------------

    def _batch(self, images: np.ndarray, prompts: list[Prompt]) -> list[Judgment]:
        """One image forward per image; the implicit, explicit and superficial prompts share it."""
        img, k = self._image_features(images), self._scale()
        texts = [p.text for p in prompts]
        pairs = [self._contrast_texts(p) for p in prompts] if self.rule == "prompt_contrast" else [None] * len(prompts)
        extra = [t for pair in pairs if pair for t in pair]
        txt = self._text_features(texts + extra)
        implicit = ((img * txt[: len(texts)]).sum(-1) * k).tolist()
        out, j = [], len(texts)
        for i, (s, pair, p) in enumerate(zip(implicit, pairs, prompts)):
            if self.rule == "two_way":
                verdict, raw = self._versus_superficial(s, txt[i], p, k)
            elif pair:
                e, sp = (float(img[i] @ txt[j]) * k, float(img[i] @ txt[j + 1]) * k)
                j += 2
                verdict, raw = int(e > sp), {"rule": "prompt_contrast", "explicit": e, "superficial": sp}
            else:
                verdict, raw = int(s >= self.threshold), {"rule": "threshold", "threshold": self.threshold}
            out.append(Judgment(verdict, None, json.dumps({"sciscore": s, **raw}), score=float(s)))
        return out

    def _versus_superficial(self, s: float, text: torch.Tensor, prompt: Prompt, k: float) -> tuple[int, dict]:
        """The official two-way choice with the candidate in the explicit image's place."""
        sup = float(self._image_features([self.reference.superficial(prompt)])[0] @ text) * k
        p_cand, p_sup = torch.softmax(torch.tensor([s, sup]), dim=-1).tolist()
        return int(p_cand > p_sup), {
            "rule": "two_way",
            "superficial_sciscore": sup,
            "p_candidate": p_cand,
            "p_superficial": p_sup,
        }

    @staticmethod
    def _contrast_texts(prompt: Prompt) -> tuple[str, str] | None:
        meta = prompt.metadata or {}
        ep, sp = meta.get("explicit_prompt"), meta.get("superficial_prompt")
        return (ep, sp) if ep and sp else None


def two_way_accuracy(probs: Sequence[Sequence[float]], categories: Sequence[str], laws: Sequence[str]) -> dict:
    """eval_vlm.evaluate_results' figures: a choice is right when prob_0 > prob_1 (strictly); overall,
    per category and per law accuracy (categories and laws in order of first appearance)."""
    right = [p[0] > p[1] for p in probs]

    def by(keys: Sequence[str]) -> dict[str, float]:
        groups: dict[str, list[bool]] = {}
        for key, ok in zip(keys, right):
            groups.setdefault(key, []).append(ok)
        return {key: sum(v) / len(v) for key, v in groups.items()}

    return {
        "overall_accuracy": sum(right) / len(right) if right else None,
        "category_accuracy": by(categories),
        "law_accuracy": by(laws),
    }


class References:
    """The superficial images of a Science-T2I parquet file (HF `datasets` layout: a list of
    {bytes, path} image structs per row), read on first use and decoded per row once."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(str(path))
        self._table: Any = None
        self._images: dict[int, Any] = {}

    def _rows(self) -> Any:
        if self._table is None:
            import pyarrow.parquet as pq

            if self.path.suffix != ".parquet" or not self.path.is_file():
                raise DataError(
                    f"sciscore judge: reference {self.path} is not a parquet file (rule two_way reads the "
                    f"Science-T2I-S/C parquet with its superficial_image column)"
                )
            try:
                self._table = pq.read_table(self.path, columns=["implicit_prompt", "superficial_image"])
            except Exception as err:  # pyarrow raises several types (missing column, not parquet)
                raise DataError(f"{self.path}: cannot read implicit_prompt and superficial_image: {err}") from None
        return self._table

    def check(self, prompt: Prompt) -> int:
        row = (prompt.metadata or {}).get("row")
        table = self._rows()
        if not isinstance(row, int) or not 0 <= row < table.num_rows:
            raise DataError(
                f"sciscore judge: prompt {prompt.id} has no row {row!r} in {self.path} "
                f"({table.num_rows} rows; load the prompts from this file)"
            )
        text = table.column("implicit_prompt")[row].as_py()
        if text != prompt.text:
            raise DataError(
                f"{self.path}: row {row} has implicit prompt {text!r}, not prompt {prompt.id}'s "
                f"{prompt.text!r} (load the prompts from this file)"
            )
        return row

    def superficial(self, prompt: Prompt) -> Any:
        row = self.check(prompt)
        if row not in self._images:
            self._images[row] = _decode(self._rows().column("superficial_image")[row].as_py(), self.path, row)
        return self._images[row]


def _decode(cell: Any, path: Path, row: int) -> Any:
    import io

    from PIL import Image

    item = cell[0] if isinstance(cell, list) and cell else cell
    data = item.get("bytes") if isinstance(item, dict) else item
    if not isinstance(data, (bytes, bytearray)):
        raise DataError(f"{path}: row {row}: superficial_image holds no image bytes")
    return Image.open(io.BytesIO(data)).convert("RGB")


def sciscore_judge(cfg: JudgeConfig, options: SciScoreOptions) -> SciScoreJudge:
    """The registry's factory of `judges: [{name: sciscore}]`."""
    return SciScoreJudge(**options.model_dump())
