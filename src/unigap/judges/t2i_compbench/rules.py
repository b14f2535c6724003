"""T2I-CompBench(++) scoring rules as pure functions (Karine-Huang/T2I-CompBench @ 1b70949).

Each function names the official file whose rule it reproduces (read there, never copied).
Boxes are dicts {"x_min", "y_min", "x_max", "y_max"} in the official detector frame (the image
resized with torchvision Resize(size=479, max_size=480), see `detector_frame`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Box = Mapping[str, float]


def round4(x: float) -> float:
    """The official scripts store answers as '{:.4f}' strings and multiply/average the parsed floats."""
    return float(f"{x:.4f}")


# ---- BLIPvqa_eval/BLIP_vqa.py + models/blip_vqa.py ------------------------------------------------


def yes_probability(logit_yes: float, logit_no: float) -> float:
    """blip_vqa.vqa_prob: softmax over the vocabulary at the first answer token, P(yes) / (P(yes) + P(no))
    (= sigmoid(logit_yes - logit_no), computed stably)."""
    import math

    d = logit_yes - logit_no
    return 1 / (1 + math.exp(-d)) if d >= 0 else math.exp(d) / (1 + math.exp(d))


def blip_vqa_score(yes_probs: Sequence[float | None], np_num: int = 8) -> float:
    """Product over the first `np_num` noun phrases of the rounded yes-probabilities; a missing
    question (fewer phrases than np_num, `None`) counts 1. The product is taken in float32, as the
    official `reward` tensor holds it, and rounded to 4 decimals."""
    import numpy as np

    score = np.float32(1.0)
    for p in list(yes_probs)[:np_num]:
        score = np.float32(score * np.float32(1.0 if p is None else round4(p)))
    return round4(float(score))


def pre_question(question: str, max_words: int = 50) -> str:
    """BLIP's data/utils.pre_question: lower-case, drop . ! \" ( ) * # : ; ~, right-strip, at most 50 words."""
    import re

    q = re.sub(r"([.!\"()*#:;~])", "", question.lower()).rstrip(" ")
    words = q.split(" ")
    return " ".join(words[:max_words]) if len(words) > max_words else q


# ---- CLIPScore_eval/CLIP_similarity.py -----------------------------------------------------------


def clip_score(image_feature: Sequence[float], text_feature: Sequence[float]) -> float:
    """Cosine similarity of the L2-normalised image and text embeddings, unscaled (no x100, no
    2.5 x max(., 0) CLIP-S rescaling): the official non-spatial score."""
    import math

    ni = math.sqrt(sum(x * x for x in image_feature))
    nt = math.sqrt(sum(x * x for x in text_feature))
    return sum(a * b for a, b in zip(image_feature, text_feature)) / (ni * nt)


# ---- UniDet_eval/2D_spatial_eval.py, 3D_spatial_eval.py ------------------------------------------


def _geometry(box1: Box, box2: Box) -> tuple[float, float, float]:
    c1 = ((box1["x_min"] + box1["x_max"]) / 2, (box1["y_min"] + box1["y_max"]) / 2)
    c2 = ((box2["x_min"] + box2["x_max"]) / 2, (box2["y_min"] + box2["y_max"]) / 2)
    x_overlap = max(0, min(box1["x_max"], box2["x_max"]) - max(box1["x_min"], box2["x_min"]))
    y_overlap = max(0, min(box1["y_max"], box2["y_max"]) - max(box1["y_min"], box2["y_min"]))
    inter = x_overlap * y_overlap
    area1 = (box1["x_max"] - box1["x_min"]) * (box1["y_max"] - box1["y_min"])
    area2 = (box2["x_max"] - box2["x_min"]) * (box2["y_max"] - box2["y_min"])
    union = area1 + area2 - inter
    return c2[0] - c1[0], c2[1] - c1[1], inter / union if union else 0.0


def determine_position(
    locality: str | None,
    box1: Box,
    box2: Box,
    iou_threshold: float = 0.1,
    distance_threshold: float = 150,
    depth_map=None,
    iou_threshold_3d: float = 0.5,
) -> float:
    """The official soft relation score of box1 relative to box2 (x/y distance = centre2 - centre1).

    "on top of" (in the 2D vocabulary, but no branch here) and unknown relations score 0, as there.
    """
    xd, yd, iou = _geometry(box1, box2)
    if locality in ("next to", "on side of", "near"):
        return (
            1.0
            if abs(xd) < distance_threshold or abs(yd) < distance_threshold
            else distance_threshold / max(abs(xd), abs(yd))
        )
    axis = {
        "on the right of": (xd < 0, xd, yd),
        "on the left of": (xd > 0, xd, yd),
        "on the bottom of": (yd < 0, yd, xd),
        "on the top of": (yd > 0, yd, xd),
    }
    if locality in axis:
        side, main, other = axis[locality]
        if side and abs(main) > abs(other):
            return 1.0 if iou < iou_threshold else iou_threshold / iou
        return 0.0
    if locality in ("in front of", "behind", "hidden"):
        return _depth_score(locality, box1, box2, iou, depth_map, iou_threshold_3d)
    return 0.0


def _depth_score(locality: str, box1: Box, box2: Box, iou: float, depth_map, iou_3d: float) -> float:
    """3D_spatial_eval.py: mean depth (MiDaS inverse depth: larger = nearer) inside each box —
    indexed depth[x_min:x_max, y_min:y_max], rows by x, exactly as the official code does."""
    diff = _mean_depth(depth_map, box1) - _mean_depth(depth_map, box2)
    right_order = diff > 0 if locality == "in front of" else diff < 0
    if iou > iou_3d:
        return 1.0 if right_order else 0.0
    if 0 < iou < iou_3d:
        return iou / iou_3d if right_order else 0.0
    return 0.0


def _mean_depth(depth_map, box: Box) -> float:
    """Mean of depth[x_min:x_max, y_min:y_max] as a float32 torch mean, as the official tensor's `.mean()`
    (numpy's pairwise float32 sum differs in the last bit, which flips near-ties); nan when empty."""
    import numpy as np
    import torch

    d = torch.as_tensor(np.asarray(depth_map, dtype=np.float32))
    region = d[int(box["x_min"]) : int(box["x_max"]), int(box["y_min"]) : int(box["y_max"])]
    return region.mean().item() if region.numel() else float("nan")


def spatial_score(
    det1: tuple[Box, float] | None,
    det2: tuple[Box, float] | None,
    locality: str | None,
    floor: bool = True,
    depth_map=None,
) -> float:
    """2D/3D spatial score: both objects found: 0.25 s1 + 0.25 s2 + position / 2; one found:
    0.25 x its score; none: 0. 2D (floor=True) sets scores below 0.5 to 0; 3D does not."""
    if det1 is not None and det2 is not None:
        score = (
            0.25 * det1[1] + 0.25 * det2[1] + determine_position(locality, det1[0], det2[0], depth_map=depth_map) / 2
        )
    elif det1 is not None or det2 is not None:
        score = 0.25 * (det1 or det2)[1]
    else:
        score = 0.0
    return 0.0 if floor and score < 0.5 else score


def detector_frame(width: int, height: int, size: int = 479, max_size: int = 480) -> tuple[int, int]:
    """torchvision Resize(size=479, max_size=480) output (width, height): the frame of UniDet's boxes."""
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = size, int(size * long / short)
    if new_long > max_size:
        new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_short, new_long) if width <= height else (new_long, new_short)


# ---- UniDet_eval/numeracy_eval.py ----------------------------------------------------------------


def same_object(b1: Sequence[float], b2: Sequence[float]) -> bool:
    """numeracy_eval.calculate_iou: duplicates when IoU > 0.9 or either box is > 90 % inside the other
    (inclusive-pixel areas)."""
    ix = max(0, min(b1[2], b2[2]) - max(b1[0], b2[0]) + 1)
    iy = max(0, min(b1[3], b2[3]) - max(b1[1], b2[1]) + 1)
    inter = ix * iy
    a1 = (b1[2] - b1[0] + 1) * (b1[3] - b1[1] + 1)
    a2 = (b2[2] - b2[0] + 1) * (b2[3] - b2[1] + 1)
    return inter / float(a1 + a2 - inter) > 0.9 or inter / float(a1) > 0.9 or inter / float(a2) > 0.9


def dedup(labels: Sequence[str], boxes: Sequence[Sequence[float]]) -> list[str]:
    """Greedy in detection order: drop a box that duplicates a kept box of the same label."""
    kept_l: list[str] = []
    kept_b: list[Sequence[float]] = []
    for lab, box in zip(labels, boxes):
        if not any(lab == kl and same_object(box, kb) for kl, kb in zip(kept_l, kept_b)):
            kept_l.append(lab)
            kept_b.append(box)
    return kept_l


def numeracy_score(requests: Sequence[tuple[str, int]], detected: Sequence[str]) -> float:
    """Each requested object weighs 1/len: half for being detected, half more for the exact count.

    `detected` are the de-duplicated labels; a detected label containing the object's name
    stands for it (the official renaming step). The halves are added one at a time, as there (the
    float sum differs in the last bit from adding a whole weight)."""
    detected = list(detected)
    weight, score = 1.0 / len(requests), 0.0
    for obj, n in requests:
        if obj not in detected:
            detected = [obj if obj in d else d for d in detected]
        if obj in detected:
            score += 0.5 * weight
            if detected.count(obj) == n:
                score += 0.5 * weight
    return score


def numeracy_from_detections(requests: Sequence[tuple[str, int]], detections: Sequence[Mapping]) -> float:
    """numeracy_eval.py from the detections on: [{"label", "box"}] in the detector's order, duplicates
    removed (`dedup`), then `numeracy_score`. `requests` carry the official aliases (boy -> person, ...)."""
    labels = dedup([d["label"] for d in detections], [d["box"] for d in detections])
    return numeracy_score(requests, labels)


def spatial_from_detections(
    detections: Sequence[Mapping],
    obj1: str | None,
    obj2: str | None,
    locality: str | None,
    three_d: bool = False,
    depth_map=None,
) -> float:
    """2D_spatial_eval.py / 3D_spatial_eval.py from the detections on: [{"label", "score", "box": [x1, y1, x2,
    y2]}] in the detector's order (by score). 2D takes the first detection labelled exactly obj1 / obj2
    (`obj.index`), 3D the substring search of `positions_3d`; no object parsed (None) scores 0."""
    if obj1 is None or obj2 is None:
        return 0.0
    labels = [d["label"] for d in detections]
    if three_d:
        p1, p2 = positions_3d(labels, obj1, obj2)
    else:
        p1, p2 = (labels.index(o) if o in labels else None for o in (obj1, obj2))
    d1, d2 = (None if p is None else (as_box(detections[p]["box"]), detections[p]["score"]) for p in (p1, p2))
    return spatial_score(d1, d2, locality, floor=not three_d, depth_map=depth_map)


def as_box(b: Sequence[float]) -> dict:
    return {"x_min": b[0], "y_min": b[1], "x_max": b[2], "y_max": b[3]}


# ---- 3_in_1_eval/3_in_1.py -------------------------------------------------------------------------


def three_in_one(attribute: float, spatial: float, action: float, kind: str) -> float:
    """kind "spatial": (spatial + attribute) / 2; "action": (action + attribute) / 2; otherwise
    (a prompt in neither complex_val_spatial.txt nor complex_val_action.txt) the mean of all three."""
    if kind == "spatial":
        return (spatial + attribute) * 0.5
    if kind == "action":
        return (action + attribute) * 0.5
    return (attribute + spatial + action) / 3


def complex_key(prompt: str) -> str:
    """3_in_1.py's membership key: the text before the first '.', lower-cased (after strip('\\n'))."""
    return prompt.strip("\n").split(".")[0].lower()


def complex_kind(prompt: str, lists: tuple[set[str], set[str]] | None = None) -> str:
    """3_in_1.py's weighing: "spatial" for a prompt of complex_val_spatial.txt, else "action" for one of
    complex_val_action.txt, else "both". `lists` = (spatial keys, action keys) of `complex_key`; None: the
    official val and train lists, shipped as hashes (`_complex_kinds`)."""
    key = complex_key(prompt)
    if lists is None:
        import hashlib

        from unigap.judges.t2i_compbench import _complex_kinds

        key = hashlib.sha1(key.encode()).hexdigest()[:12]
        lists = (_complex_kinds.SPATIAL, _complex_kinds.ACTION)
    return "spatial" if key in lists[0] else "action" if key in lists[1] else "both"


def positions_3d(labels: Sequence[str], obj1: str, obj2: str) -> tuple[int | None, int | None]:
    """3D_spatial_eval.py's index search: scan detections in order, updating the index of every label
    containing obj1 / obj2 (substring) until both are set — so with [dog, dog, desk] obj1 is the
    second dog. Returns (index of obj1, index of obj2); None when absent."""
    if any(obj1 in lab for lab in labels) and any(obj2 in lab for lab in labels):
        p1 = p2 = None
        for i, lab in enumerate(labels):
            if obj1 in lab:
                p1 = i
            if obj2 in lab:
                p2 = i
            if p1 is not None and p2 is not None:
                break
        return p1, p2
    first = [next((i for i, lab in enumerate(labels) if o in lab), None) for o in (obj1, obj2)]
    return (first[0], None) if first[0] is not None else (None, first[1])
