"""`--judge geneval`: GenEval's procedure on transformers models.

Per image (evaluate_images.py @ af4902f, `evaluate_image`):
1. instance segmentation with Mask2Former Swin-S (COCO instance) — here
   `Mask2FormerForUniversalSegmentation`; the input is prepared as mmdet 2.x's test pipeline for
   that config does (resize keeping the aspect ratio to fit (1333, 800), normalise, zero-pad to a
   multiple of 32), so any image size is taken; the raw outputs are turned into per-class
   detections as mmdet 2.x's Mask2Former instance post-processing does (mask logits upsampled to
   the padded input, cropped to the resized image, resized to the original size; top
   `max_per_image` (query, class) pairs of the softmax without the no-object class; mask = logit > 0;
   score = class probability x mean sigmoid inside the mask; box = the mask's extent, x2/y2 + 1);
2. per class: sort, threshold (0.3 / 0.9 for counting), at most 16, NMS off (`rules.select_detections`);
3. colour of the most confident detections of the classes a colour clause names: CLIP ViT-L/14
   zero-shot over GenEval's 10 colours with its three templates ("a photo of a {c} {class}",
   "a photo of a {c}-colored {class}", "a photo of a {c} object"; per colour the mean of the
   normalised template embeddings, renormalised), on the image composited over a #999
   background through the instance mask and cropped to the box;
4. `rules.decide`.
Verdict = correct, score = 1.0 / 0.0 (GenEval scores images 0/1), raw = GenEval's reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

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
from unigap.judges.geneval.rules import COLORS, OBJECT_NAMES, check_metadata, colour_requests, decide, select_detections
from unigap.records import Judgment, Prompt

if TYPE_CHECKING:
    from unigap.judges.base import JudgeConfig
    from unigap.judges.geneval.options import GenevalOptions

TEMPLATES = ("a photo of a {c} {cls}", "a photo of a {c}-colored {cls}", "a photo of a {c} object")
MMDET_MEAN = (123.675, 116.28, 103.53)  # the Mask2Former config's img_norm_cfg (RGB)
MMDET_STD = (58.395, 57.12, 57.375)


def metadata_of(prompt: Prompt) -> dict:
    """The GenEval metadata line of a prompt, validated; DataError naming the line when it is bad."""
    meta = prompt.metadata.get("geneval") if prompt.metadata else None
    index = prompt.metadata.get("index") if prompt.metadata else None
    where = (
        f"evaluation_metadata.jsonl line {index + 1} (prompt {prompt.id})"
        if index is not None
        else f"prompt {prompt.id}"
    )
    if not isinstance(meta, dict):
        raise DataError(f"{where}: no GenEval metadata (load the prompts with suite 'geneval')")
    check_metadata(meta, where)
    return meta


def rescale_size(w: int, h: int, scale: tuple[int, int]) -> tuple[int, int]:
    """mmcv.rescale_size with keep_ratio: fit (long, short) = scale; returns (new_w, new_h)."""
    factor = min(max(scale) / max(w, h), min(scale) / min(w, h))
    return int(w * factor + 0.5), int(h * factor + 0.5)


def detector_inputs(images: np.ndarray, scale: tuple[int, int], divisor: int) -> tuple[torch.Tensor, list]:
    """(B, 3, Hp, Wp) normalised, zero-padded pixels and each image's resized (h, w)."""
    from PIL import Image

    resized, sizes = [], []
    for im in images:
        nw, nh = rescale_size(im.shape[1], im.shape[0], scale)
        arr = np.asarray(to_pil(im).resize((nw, nh), Image.BILINEAR), dtype=np.float32)
        resized.append((arr - np.array(MMDET_MEAN, np.float32)) / np.array(MMDET_STD, np.float32))
        sizes.append((nh, nw))
    hp = max(-(-h // divisor) * divisor for h, _ in sizes)
    wp = max(-(-w // divisor) * divisor for _, w in sizes)
    batch = torch.zeros(len(images), 3, hp, wp)
    for i, arr in enumerate(resized):
        batch[i, :, : arr.shape[0], : arr.shape[1]] = torch.from_numpy(arr).permute(2, 0, 1)
    return batch, sizes


def instances(
    cls_logits: torch.Tensor,
    mask_logits: torch.Tensor,
    pad_hw: tuple[int, int],
    resized_hw: tuple[int, int],
    orig_hw: tuple[int, int],
    max_per_image: int,
) -> dict[str, list[dict]]:
    """mmdet 2.x Mask2Former instance post-processing of one image -> {class: [{"box","score","mask"}]}.

    cls_logits (Q, C + 1), mask_logits (Q, h, w) at 1/4 of the padded input.
    """
    n_cls = cls_logits.shape[-1] - 1
    scores = torch.softmax(cls_logits.float(), -1)[:, :-1]  # (Q, C)
    top_scores, top_idx = scores.flatten().topk(min(max_per_image, scores.numel()), sorted=False)
    labels, queries = top_idx % n_cls, top_idx // n_cls
    uniq, inverse = torch.unique(queries, return_inverse=True)
    masks = _full_size_masks(mask_logits[uniq].float(), pad_hw, resized_hw, orig_hw)[inverse]  # (K, H, W)
    binary = masks > 0
    mask_scores = (masks.sigmoid() * binary).flatten(1).sum(1) / (binary.flatten(1).sum(1) + 1e-6)
    det_scores = top_scores * mask_scores
    out: dict[str, list[dict]] = {}
    for k in range(len(labels)):
        name = OBJECT_NAMES[int(labels[k])] if n_cls == len(OBJECT_NAMES) else str(int(labels[k]))
        out.setdefault(name, []).append(
            {"box": mask_box(binary[k]), "score": float(det_scores[k]), "mask": binary[k].cpu().numpy()}
        )
    return out


def _full_size_masks(logits: torch.Tensor, pad_hw, resized_hw, orig_hw) -> torch.Tensor:
    interp = torch.nn.functional.interpolate
    x = interp(logits[None], size=pad_hw, mode="bilinear", align_corners=False)[0]
    x = x[:, : resized_hw[0], : resized_hw[1]]
    return interp(x[None], size=orig_hw, mode="bilinear", align_corners=False)[0]


def mask_box(mask: torch.Tensor) -> list[float]:
    """mmdet mask2bbox: [x_min, y_min, x_max + 1, y_max + 1], zeros for an empty mask."""
    xs = torch.where(mask.any(0))[0]
    ys = torch.where(mask.any(1))[0]
    if len(xs) == 0 or len(ys) == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [float(xs[0]), float(ys[0]), float(xs[-1] + 1), float(ys[-1] + 1)]


def colour_names(logits: torch.Tensor) -> list[str]:
    """color_classification's answer: the argmax colour of each (K, 10) logit row (first on ties)."""
    return [COLORS[i] for i in logits.argmax(1).tolist()]


class GenevalJudge:
    """GenEval as an external judge; options in `GenevalOptions` (models load on first use)."""

    name = "geneval"

    def __init__(self, **options: Any) -> None:
        from unigap.judges.geneval.options import GenevalOptions

        o = GenevalOptions(**options)  # validated: unknown keys and bad values are errors
        self.detector_path, self.clip_path = o.detector, o.clip
        self.device, self.dtype = pick_device(o.device), pick_dtype(o.dtype, "geneval judge")
        self.batch_size = o.batch_size
        self.rules = dict(
            threshold=o.threshold,
            counting_threshold=o.counting_threshold,
            max_objects=o.max_objects,
            max_overlap=o.max_overlap,
        )
        self.position_threshold, self.bgcolor, self.crop = o.position_threshold, o.bgcolor, o.crop
        self.scale, self.size_divisor, self.max_per_image = tuple(o.scale), o.size_divisor, o.max_per_image
        self.detector: Any = None
        self.clip: Any = None
        self.tokenizer: Any = None
        self._colour_clf: dict[str, torch.Tensor] = {}

    def load(self) -> GenevalJudge:
        if self.detector is not None:
            return self
        tf = require("transformers")
        self.detector = load_pretrained(
            tf.Mask2FormerForUniversalSegmentation,
            self.detector_path,
            "geneval judge (detector)",
            self.device,
            self.dtype,
        )
        n = self.detector.config.num_labels
        if n != len(OBJECT_NAMES):
            raise UnigapError(
                f"geneval judge: detector {self.detector_path!r} has {n} classes, GenEval needs the "
                f"80 COCO instance classes"
            )
        self.clip = load_pretrained(tf.CLIPModel, self.clip_path, "geneval judge (clip)", self.device, self.dtype)
        self.tokenizer = load_component(tf.AutoTokenizer.from_pretrained, self.clip_path, "geneval judge (clip)")
        return self

    def check_prompts(self, prompts: Sequence[Prompt]) -> None:
        """Raise before anything is judged if a prompt's GenEval metadata line is bad."""
        for p in prompts:
            metadata_of(p)

    # ---- judging -------------------------------------------------------------------------

    def judge(self, images: torch.Tensor, prompts: Sequence[Prompt]) -> list[Judgment]:
        check_lengths(images, prompts, "geneval judge")
        arrays = as_arrays(images)
        self.load()
        out: list[Judgment] = []
        for s in range(0, len(prompts), self.batch_size):
            out += self._batch(arrays[s : s + self.batch_size], list(prompts[s : s + self.batch_size]))
        return out

    def _batch(self, images: np.ndarray, prompts: list[Prompt]) -> list[Judgment]:
        try:
            per_image = self.detect(images)
        except (RuntimeError, ValueError) as err:  # e.g. OOM: fail this batch's items, go on
            return [failed("geneval judge", err) for _ in prompts]
        out = []
        for im, p, raw in zip(images, prompts, per_image):
            try:
                out.append(self._one(im, p, raw))
            except (DataError, RuntimeError, ValueError) as err:
                out.append(failed("geneval judge", err))
        return out

    def _one(self, image: np.ndarray, prompt: Prompt, raw: dict[str, list[dict]]) -> Judgment:
        meta = metadata_of(prompt)
        dets = select_detections(raw, meta["tag"], **self.rules)
        self.classify_colours(image, dets, colour_requests(meta))
        ok, reason = decide(meta, dets, self.position_threshold)
        return Judgment(int(ok), float(ok), reason, score=float(ok))

    @torch.inference_mode()
    def detect(self, images: np.ndarray) -> list[dict[str, list[dict]]]:
        """Raw per-class instances (before GenEval's thresholds) of each image."""
        pixels, sizes = detector_inputs(images, self.scale, self.size_divisor)
        out = self.detector(pixel_values=pixels.to(self.device, self.dtype))
        pad = tuple(pixels.shape[-2:])
        return [
            instances(
                out.class_queries_logits[i],
                out.masks_queries_logits[i],
                pad,
                sizes[i],
                images[i].shape[:2],
                self.max_per_image,
            )
            for i in range(len(images))
        ]

    # ---- colour ----------------------------------------------------------------------------

    def classify_colours(self, image: np.ndarray, dets: dict[str, list[dict]], need: dict[str, int]) -> None:
        """Set "color" on the `need[class]` most confident detections of each class (in place)."""
        for cls, k in need.items():
            objs = dets.get(cls, [])[:k]
            if objs:
                for d, c in zip(objs, self.colours(image, objs, cls)):
                    d["color"] = c

    def colours(self, image: np.ndarray, objs: list[dict], cls: str) -> list[str]:
        crops = [self.crop_image(image, d) for d in objs]
        pixels = _clip.clip_pixels(crops, _clip.image_size(self.clip))
        feats = _clip.image_features(self.clip, pixels, self.device)  # (K, D)
        return colour_names(100.0 * feats @ self.colour_classifier(cls))  # (K, 10) logits

    def colour_classifier(self, cls: str) -> torch.Tensor:
        """(D, 10): per colour the renormalised mean of its normalised template embeddings (clip_benchmark)."""
        if cls not in self._colour_clf:
            cols = []
            for c in COLORS:
                emb = _clip.text_features(
                    self.clip, self.tokenizer, [t.format(c=c, cls=cls) for t in TEMPLATES], self.device
                ).mean(0)
                cols.append(emb / emb.norm())
            self._colour_clf[cls] = torch.stack(cols, 1)
        return self._colour_clf[cls]

    def crop_image(self, image: np.ndarray, det: dict) -> Any:
        """GenEval's ImageCrops item: the image through the mask over the background, cropped to the box."""
        from PIL import Image

        pil = to_pil(image)
        if det.get("mask") is not None:
            blank = pil.copy() if self.bgcolor == "original" else Image.new("RGB", pil.size, color=self.bgcolor)
            pil = Image.composite(pil, blank, Image.fromarray(np.asarray(det["mask"], dtype=bool)))
        return pil.crop(tuple(det["box"][:4])) if self.crop else pil


def geneval_judge(cfg: JudgeConfig, options: GenevalOptions) -> GenevalJudge:
    """The registry's factory of `judges: [{name: geneval}]`."""
    return GenevalJudge(**options.model_dump())
