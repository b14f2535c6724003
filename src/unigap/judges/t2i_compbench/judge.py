"""`--judge t2i-compbench`: one judge for the eight T2I-CompBench(++) categories (prompt.subtask).

| category | metric | models |
|---|---|---|
| color, shape, texture | BLIP-VQA: each noun-phrase occurrence "<phrase>?", product of P(yes) | BLIP VQA |
| non_spatial | CLIPScore: cosine(image, prompt) | CLIP ViT-B/32 |
| spatial | 2D rule: 0.25 s1 + 0.25 s2 + position / 2, < 0.5 -> 0 | OWLv2 (for UniDet) |
| 3d_spatial | the same with depth relations, no floor | OWLv2 + DPT-hybrid MiDaS |
| numeracy | per object: 1/2 detected + 1/2 exact count | OWLv2 |
| complex | 3-in-1 of BLIP-VQA, 2D spatial (complex parsing), CLIPScore without adjectives | all |

Score = the official per-image score (the rules from the model outputs on are `rules.*_from_detections`,
`rules.blip_vqa_score`, `rules.complex_kind`, compared with the official scripts' own outputs in
tests/judges/test_t2i_rules.py); verdict = score >= thresholds[metric] (a convenience rule,
see docs/scorers.md); raw = JSON with what the score was computed from.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
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
    per_item,
    pick_device,
    pick_dtype,
    require,
    to_pil,
)
from unigap.judges.t2i_compbench import METRIC_OF, rules, text
from unigap.judges.t2i_compbench.options import DEFAULT_THRESHOLDS
from unigap.records import Judgment, Prompt

if TYPE_CHECKING:
    from unigap.judges.base import JudgeConfig
    from unigap.judges.t2i_compbench.options import T2ICompBenchOptions

Detection = dict  # {"label", "score", "box": [x1, y1, x2, y2] in the detector frame}


class T2ICompBenchJudge:
    name = "t2i-compbench"

    def __init__(self, **options: Any) -> None:
        from unigap.judges.t2i_compbench.options import T2ICompBenchOptions

        o = T2ICompBenchOptions(**options)  # validated: unknown keys and bad values are errors
        self.paths = {"blip": o.blip, "clip": o.clip, "detector": o.detector, "depth": o.depth}
        self.device, self.dtype = pick_device(o.device), pick_dtype(o.dtype, "t2i-compbench judge")
        self.batch_size, self.np_num = o.batch_size, o.np_num
        self.blip_size, self.depth_size = o.blip_image_size, o.depth_image_size
        self.det_threshold, self.det_nms, self.template = o.detector_threshold, o.detector_nms, o.query_template
        self.objects = text.read_objects_file(_readable(o.objects_file, "objects_file")) if o.objects_file else None
        files = (o.complex_spatial_file, o.complex_action_file)
        self.complex_lists = (
            None
            if files == (None, None)
            else (_keys(files[0], "complex_spatial_file"), _keys(files[1], "complex_action_file"))
        )
        self.thresholds = {**DEFAULT_THRESHOLDS, **o.thresholds}
        self._models: dict[str, tuple] = {}

    # ---- loading (each model on first use) ---------------------------------------------------

    def _load(self, key: str) -> tuple:
        if key not in self._models:
            tf = require("transformers")
            what = f"t2i-compbench judge ({key})"
            cls = {
                "blip": tf.BlipForQuestionAnswering,
                "clip": tf.CLIPModel,
                "detector": tf.Owlv2ForObjectDetection,
                "depth": tf.DPTForDepthEstimation,
            }[key]
            model = load_pretrained(cls, self.paths[key], what, self.device, self.dtype)
            extra = None
            if key in ("blip", "clip", "detector"):
                extra = load_component(tf.AutoTokenizer.from_pretrained, self.paths[key], what)
            if key == "detector":
                require("scipy")  # OWLv2's image processor resizes with scipy.ndimage
                from transformers.models.owlv2.image_processing_pil_owlv2 import Owlv2ImageProcessorPil

                extra = (extra, load_component(Owlv2ImageProcessorPil.from_pretrained, self.paths[key], what))
            self._models[key] = (model, extra)
        return self._models[key]

    # ---- judging -------------------------------------------------------------------------------

    def judge(self, images: torch.Tensor, prompts: Sequence[Prompt]) -> list[Judgment]:
        check_lengths(images, prompts, "t2i-compbench judge")
        arrays = as_arrays(images)
        out: list[Judgment] = []
        for s in range(0, len(prompts), self.batch_size):
            out += self._batch(arrays[s : s + self.batch_size], list(prompts[s : s + self.batch_size]))
        return out

    def check_prompts(self, prompts: Sequence[Prompt]) -> None:
        bad = sorted({p.subtask for p in prompts if p.subtask not in METRIC_OF})
        if bad:
            raise UnigapError(
                f"t2i-compbench judge: unknown categories {', '.join(bad)}; known: {', '.join(METRIC_OF)}"
            )

    def _batch(self, images: np.ndarray, prompts: list[Prompt]) -> list[Judgment]:
        out: list[Judgment | None] = [None] * len(prompts)
        groups: dict[str, list[int]] = {}
        for i, p in enumerate(prompts):
            groups.setdefault(METRIC_OF.get(p.subtask, "?"), []).append(i)
        for metric, idx in groups.items():
            try:
                results = self._score(metric, images[idx], [prompts[i] for i in idx])
            except (RuntimeError, ValueError, UnigapError, ZeroDivisionError) as err:
                results = [failed("t2i-compbench judge", err)] * len(idx)
            for i, r in zip(idx, results):
                out[i] = r
        return out  # type: ignore[return-value]

    def _score(self, metric: str, images: np.ndarray, prompts: list[Prompt]) -> list[Judgment]:
        if metric == "?":
            raise UnigapError(f"unknown T2I-CompBench category {prompts[0].subtask!r}")
        texts = [p.text for p in prompts]
        if metric == "blip":
            answers = self.blip_vqa(images, texts)
            details = [{"phrases": [[ph, p] for ph, p in zip(phs, probs)]} for phs, probs in answers]
            scores = [rules.blip_vqa_score(probs or [None], self.np_num) for _, probs in answers]
        elif metric == "clip":
            scores = self.clip_scores(images, texts)
            details = [{} for _ in texts]
        elif metric == "complex":
            return self._complex(images, texts)
        else:  # one image at a time: a prompt the rules cannot parse fails alone
            return per_item(
                lambda i: self._judgment(metric, *self._detector_metric(metric, images[i], texts[i])),
                len(texts),
                "t2i-compbench judge",
            )
        return [self._judgment(metric, s, d) for s, d in zip(scores, details)]

    def _judgment(self, metric: str, score: float, details: dict) -> Judgment:
        verdict = int(score >= self.thresholds[metric])
        raw = json.dumps({"metric": metric, "score": round(score, 6), **details}, default=_round)
        return Judgment(verdict, None, raw, score=float(score))

    # ---- BLIP-VQA ------------------------------------------------------------------------------

    @torch.inference_mode()
    def blip_vqa(self, images: np.ndarray, prompts: list[str]) -> list[tuple[list[str], list[float]]]:
        """Per prompt: (its first np_num noun phrases, each occurrence, and the unrounded P(yes) of each)."""
        from PIL import Image

        model, tok = self._load("blip")
        asked = [text.blip_questions(p, self.np_num) for p in prompts]
        pix = torch.stack(
            [
                _clip.normalise(
                    to_pil(im).resize((self.blip_size,) * 2, Image.BICUBIC),
                    _clip.OPENAI_CLIP_MEAN,
                    _clip.OPENAI_CLIP_STD,
                )
                for im in images
            ]
        )
        interp = self.blip_size != model.config.vision_config.image_size
        embeds = model.vision_model(
            pixel_values=pix.to(self.device, self.dtype), interpolate_pos_encoding=interp
        ).last_hidden_state  # (B, N, C)
        pairs = [(b, q) for b, qs in enumerate(asked) for _, q in qs]
        probs = self._yes_probs(model, tok, embeds, pairs) if pairs else []
        it = iter(probs)
        return [([ph for ph, _ in qs], [next(it) for _ in qs]) for qs in asked]

    def _yes_probs(self, model: Any, tok: Any, embeds: torch.Tensor, pairs: list[tuple[int, str]]) -> list[float]:
        q = tok([t for _, t in pairs], padding="longest", truncation=True, max_length=35, return_tensors="pt")
        ids = q["input_ids"].clone()
        ids[:, 0] = _token_id(tok, "[ENC]")  # BLIP replaces [CLS] with [ENC] for the question encoder
        img = embeds[torch.tensor([b for b, _ in pairs], device=embeds.device)]
        mask = q["attention_mask"].to(self.device)
        states = model.text_encoder(
            input_ids=ids.to(self.device),
            attention_mask=mask,
            encoder_hidden_states=img,
            encoder_attention_mask=torch.ones(img.shape[:2], dtype=torch.long, device=img.device),
        ).last_hidden_state
        bos = torch.full((len(pairs), 1), model.config.text_config.bos_token_id, device=self.device)
        logits = (
            model.text_decoder(
                input_ids=bos, encoder_hidden_states=states, encoder_attention_mask=mask, return_dict=True
            )
            .logits[:, 0]
            .float()
        )  # (Q, V)
        yes, no = _token_id(tok, "yes"), _token_id(tok, "no")
        return torch.sigmoid(logits[:, yes] - logits[:, no]).tolist()

    # ---- CLIPScore -----------------------------------------------------------------------------

    def clip_scores(self, images: np.ndarray, prompts: list[str]) -> list[float]:
        model, tok = self._load("clip")
        pix = _clip.clip_pixels([to_pil(im) for im in images], _clip.image_size(model))
        img = _clip.image_features(model, pix, self.device)
        txt = _clip.text_features(model, tok, prompts, self.device)
        return (img * txt).sum(-1).tolist()

    # ---- detector metrics ----------------------------------------------------------------------

    def _detector_metric(self, metric: str, image: np.ndarray, prompt: str) -> tuple[float, dict]:
        if metric == "numeracy":
            return self._numeracy(image, prompt)
        vocab = text.SPATIAL_3D if metric == "3d_spatial" else text.SPATIAL_2D
        loc = text.locality(prompt, vocab)
        obj1, obj2 = text.simple_pair(prompt)
        return self._spatial(image, loc, obj1, obj2, three_d=metric == "3d_spatial")

    def _spatial(
        self, image: np.ndarray, loc: str | None, obj1: str | None, obj2: str | None, three_d: bool = False
    ) -> tuple[float, dict]:
        details: dict = {"relation": loc, "objects": [obj1, obj2]}
        if obj1 is None or obj2 is None:
            return 0.0, details
        dets = self.detect(image, [obj1, obj2])
        labels = [d["label"] for d in dets]
        both = three_d and None not in rules.positions_3d(labels, obj1, obj2)
        depth = self.depth_map(image) if both else None  # only the depth branch reads it
        details["detections"] = dets
        return rules.spatial_from_detections(dets, obj1, obj2, loc, three_d, depth), details

    def _numeracy(self, image: np.ndarray, prompt: str) -> tuple[float, dict]:
        requests = [(text.NUMERACY_ALIASES.get(o, o), n) for o, n in text.count_requests(prompt, self.objects)]
        if not requests:
            raise ValueError(f"numeracy: no counted object found in {prompt!r}")
        dets = self.detect(image, list(dict.fromkeys(o for o, _ in requests)))
        labels = rules.dedup([d["label"] for d in dets], [d["box"] for d in dets])
        return rules.numeracy_from_detections(requests, dets), {"requests": requests, "detected": labels}

    def _complex(self, images: np.ndarray, prompts: list[str]) -> list[Judgment]:
        attrs = self.blip_vqa(images, prompts)
        actions = self.clip_scores(images, [text.without_adjectives(p) for p in prompts])

        def one(i: int) -> Judgment:
            (phs, probs), p = attrs[i], prompts[i]
            attribute = rules.blip_vqa_score(probs or [None], self.np_num)
            spatial, sd = self._spatial(images[i], text.locality(p, text.SPATIAL_2D), *text.complex_pair(p))
            kind = rules.complex_kind(p, self.complex_lists)
            score = rules.three_in_one(attribute, spatial, actions[i], kind)
            return self._judgment(
                "complex",
                score,
                {
                    "kind": kind,
                    "attribute": attribute,
                    "spatial": spatial,
                    "action": actions[i],
                    "phrases": [[ph, q] for ph, q in zip(phs, probs)],
                    **sd,
                },
            )

        return per_item(one, len(prompts), "t2i-compbench judge")

    @torch.inference_mode()
    def detect(self, image: np.ndarray, objects: list[str]) -> list[Detection]:
        """OWLv2 detections of `objects`, sorted by score, boxes in the official 479/480 frame."""
        model, (tok, proc) = self._load("detector")
        queries = [self.template.format(o) for o in objects]
        q = tok(
            queries,
            padding="max_length",
            truncation=True,
            max_length=model.config.text_config.max_position_embeddings,
            return_tensors="pt",
        )
        pix = proc(images=[to_pil(image)], return_tensors="pt")["pixel_values"]
        out = model(
            input_ids=q["input_ids"].to(self.device),
            attention_mask=q["attention_mask"].to(self.device),
            pixel_values=pix.to(self.device, self.dtype),
        )
        scores, labels = torch.sigmoid(out.logits[0].float()).max(-1)  # (P,), best query per patch
        h, w = image.shape[:2]
        boxes = _xyxy(out.pred_boxes[0].float(), max(h, w), w, h)
        keep = scores > self.det_threshold
        dets = _nms(boxes[keep], scores[keep], labels[keep], self.det_nms)
        fw, fh = rules.detector_frame(w, h)
        return [
            {"label": objects[lab], "score": s, "box": [b[0] * fw / w, b[1] * fh / h, b[2] * fw / w, b[3] * fh / h]}
            for b, s, lab in dets
        ]

    @torch.inference_mode()
    def depth_map(self, image: np.ndarray) -> np.ndarray:
        """3D_spatial_eval.py's depth: DPT on the image resized to 480x480 (mean/std 0.5), min-max
        normalised, resized back (bilinear, align_corners), stored as an 8-bit PNG (we keep the
        8-bit values), read back resized as the detector's input (Resize(479, max 480)), / 255."""
        from PIL import Image

        model, _ = self._load("depth")
        pil = to_pil(image)
        x = _clip.normalise(pil.resize((self.depth_size,) * 2, Image.BILINEAR), (0.5,) * 3, (0.5,) * 3)
        _accept_size(model, self.depth_size)
        d = model(pixel_values=x[None].to(self.device, self.dtype)).predicted_depth[0].float()
        d = (d - d.min()) / (d.max() - d.min())
        d = torch.nn.functional.interpolate(d[None, None], size=image.shape[:2], mode="bilinear", align_corners=True)[
            0, 0
        ]
        png = Image.fromarray(255 * d.cpu().numpy()).convert("L")
        fw, fh = rules.detector_frame(image.shape[1], image.shape[0])
        return np.asarray(png.resize((fw, fh), Image.BILINEAR), dtype=np.float32) / 255.0


def _accept_size(model: Any, size: int) -> None:
    """DPT-hybrid's embeddings refuse inputs other than the config size unless told, but always
    resize their position embeddings (bilinear, as the original DPT's _resize_pos_embed) to the
    input grid; the official depth transform feeds 480 x 480 to the 384 model."""
    emb = getattr(getattr(model, "dpt", None), "embeddings", None)
    if isinstance(getattr(emb, "image_size", None), (tuple, list)):
        emb.image_size = (size, size)


def _keys(path: str | None, option: str) -> set[str]:
    if not path:
        return set()
    return {rules.complex_key(line) for line in _readable(path, option).read_text().splitlines()}


def _readable(path: str, option: str) -> Path:
    """The file an option names; DataError naming the option and the file if it is missing or unreadable."""
    p = Path(path)
    if not p.is_file() or not os.access(p, os.R_OK):
        why = "a directory, not a file" if p.is_dir() else "not readable" if p.exists() else "no such file"
        raise DataError(f"t2i-compbench judge: {option}: {p}: {why}")
    return p


def _token_id(tok: Any, token: str) -> int:
    tid = tok.convert_tokens_to_ids(token)
    if tid is None or tid == tok.unk_token_id:
        raise UnigapError(f"t2i-compbench judge: the BLIP tokenizer has no {token!r} token")
    return int(tid)


def _xyxy(boxes: torch.Tensor, side: int, w: int, h: int) -> torch.Tensor:
    """OWLv2 (cx, cy, w, h) relative to the padded square -> pixel (x1, y1, x2, y2) clipped to the image."""
    cx, cy, bw, bh = boxes.unbind(-1)
    xy = torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], -1) * side
    return torch.stack([xy[:, 0].clamp(0, w), xy[:, 1].clamp(0, h), xy[:, 2].clamp(0, w), xy[:, 3].clamp(0, h)], -1)


def _nms(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou: float) -> list[tuple]:
    """Greedy per-label NMS, highest score first -> [(box list, score, label)]."""
    order = scores.argsort(descending=True).tolist()
    kept: list[tuple] = []
    for i in order:
        b = boxes[i].tolist()
        if all(lab != int(labels[i]) or _iou(b, kb) <= iou for kb, _, lab in kept):
            kept.append((b, float(scores[i]), int(labels[i])))
    return kept


def _iou(a: list[float], b: list[float]) -> float:
    ix, iy = max(0.0, min(a[2], b[2]) - max(a[0], b[0])), max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _round(x: Any) -> Any:
    return round(float(x), 4) if isinstance(x, (float, np.floating)) else str(x)


def t2i_compbench_judge(cfg: JudgeConfig, options: T2ICompBenchOptions) -> T2ICompBenchJudge:
    """The registry's factory of `judges: [{name: t2i-compbench}]`."""
    return T2ICompBenchJudge(**options.model_dump())
