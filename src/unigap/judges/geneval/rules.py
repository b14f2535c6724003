"""GenEval's decision rules as pure functions (djghosh13/geneval @ af4902f, evaluation/evaluate_images.py).

Reproduced from reading that file (never copied):

- `select_detections`: per class, detections in the order of `np.argsort(scores)[::-1]` as GenEval's
  pinned numpy 1.23 computes it (`argsort.argsort`: equal scores come out as there, e.g. the later
  of two ties first), kept when score > threshold compared in float32 (mmdet's scores are float32
  and numpy 1.23 compares a float32 array with a Python float in float32: a score of exactly
  float32(0.3) is dropped), threshold 0.3 (0.9 when the tag is "counting"), at most
  `max_objects` (16) per class, then greedy NMS at `max_overlap` (1.0 = off, GenEval's default;
  IoU in float32, compared in float64 as numpy 1.23 compares two scalars); classes with none are
  dropped. (`evaluate_image`, lines "Determine bounding boxes to keep".)
- `decide`: include clauses are ANDed, exclude clauses ORed (`evaluate`):
  * include: the `count` most confident detections of the class must exist; if the clause has a
    colour, at least `count` of those must be classified as that colour; if it has a position
    [relation, group] (checked only when the clause still matches), every one of those objects
    must stand in `relation` to every object of the matched target group; a target group that
    did not match fails the clause ("no target ...").
  * exclude: fails when the class has >= `count` detections (all kept ones, not only the top).
- `relative_position`: box centres; offset = centre_a - centre_b; each axis is shrunk towards 0 by
  position_threshold x (dim_a + dim_b) on that axis (dims = box width/height); no relation when
  both shrunk components are below 1e-3; otherwise the shrunk offset divided by the norm of the
  *unshrunk* offset gives (dx, dy) and dx < -0.5 -> "left of", dx > 0.5 -> "right of",
  dy < -0.5 -> "above", dy > 0.5 -> "below" (image y grows downwards). Computed in float32 with
  the same numpy operations, as GenEval computes it on mmdet's float32 boxes.
- the reason strings are GenEval's, joined with newlines. Where a reason lists two relations
  ("found left of and above target") GenEval joins a Python set, whose order changes from one
  process to the next (string hashing); we list them in `RELATIONS` order.

tests/judges/test_geneval_official.py compares all of this with fixtures written by the official
code (tools/official/geneval).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from unigap.errors import DataError
from unigap.judges.geneval.argsort import argsort

# GenEval's evaluation/object_names.txt: the 80 COCO instance classes in the detector's label order.
OBJECT_NAMES = (
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "computer mouse",
    "tv remote",
    "computer keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
)
# evaluate_images.py COLORS, in its order (the zero-shot classifier's class order).
COLORS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white")
TAGS = ("single_object", "two_object", "counting", "colors", "position", "color_attr")
RELATIONS = ("left of", "right of", "above", "below")

Detection = Mapping[str, Any]  # {"box": [x1, y1, x2, y2], "score": s, "color": str | None}


def check_metadata(metadata: Mapping[str, Any], where: str = "metadata") -> None:
    """DataError naming `where` (e.g. "file.jsonl:12") for an unknown tag, class, colour or relation."""
    if metadata.get("tag") not in TAGS:
        raise DataError(f"{where}: unknown GenEval tag {metadata.get('tag')!r}; known: {', '.join(TAGS)}")
    includes = metadata.get("include")
    if not isinstance(includes, list) or not includes:
        raise DataError(f"{where}: GenEval metadata needs a non-empty 'include' list")
    for kind in ("include", "exclude"):
        for k, req in enumerate(metadata.get(kind, []) or []):
            _check_clause(req, f"{where}: {kind}[{k}]", k if kind == "include" else None)


def _check_clause(req: Any, where: str, index: int | None) -> None:
    if not isinstance(req, Mapping) or req.get("class") not in OBJECT_NAMES:
        cls = req.get("class") if isinstance(req, Mapping) else req
        raise DataError(f"{where}: unknown GenEval class {cls!r} (not one of the 80 COCO names of object_names.txt)")
    if not isinstance(req.get("count"), int) or req["count"] < 1:
        raise DataError(f"{where}: 'count' must be a positive integer, got {req.get('count')!r}")
    if "color" in req and req["color"] not in COLORS:
        raise DataError(f"{where}: unknown GenEval colour {req['color']!r}; known: {', '.join(COLORS)}")
    if "position" in req:
        pos = req["position"]
        ok = isinstance(pos, (list, tuple)) and len(pos) == 2 and pos[0] in RELATIONS and isinstance(pos[1], int)
        if not ok or index is None or not 0 <= pos[1] < index:
            raise DataError(
                f"{where}: 'position' must be [relation, earlier include index] with relation in "
                f"{', '.join(RELATIONS)}, got {pos!r}"
            )


def select_detections(
    per_class: Mapping[str, Sequence[Detection]],
    tag: str,
    threshold: float = 0.3,
    counting_threshold: float = 0.9,
    max_objects: int = 16,
    max_overlap: float = 1.0,
) -> dict[str, list[dict]]:
    """GenEval's per-class filtering of raw detections: sort, threshold, cap, optional NMS."""
    conf = np.float32(counting_threshold if tag == "counting" else threshold)
    out: dict[str, list[dict]] = {}
    for cls, dets in per_class.items():
        scores = np.array([d["score"] for d in dets], dtype=np.float32)
        order = [i for i in argsort(scores.tolist())[::-1] if scores[i] > conf][:max_objects]
        kept: list[dict] = []
        while order:
            best = order.pop(0)
            kept.append(dict(dets[best]))
            order = [i for i in order if max_overlap == 1 or box_iou(dets[best]["box"], dets[i]["box"]) < max_overlap]
        if kept:
            out[cls] = kept
    return out


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """evaluate_images.compute_iou on float32 boxes: inclusive pixels (+1 on each side length)."""
    a, b = np.asarray(a[:4], np.float32), np.asarray(b[:4], np.float32)

    def area(x: Sequence[np.float32]) -> np.float32:
        return max(x[2] - x[0] + 1, 0) * max(x[3] - x[1] + 1, 0)

    inter = area([max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])])
    union = area(a) + area(b) - inter
    return float(inter / union) if union else 0.0


def relative_position(box_a: Sequence[float], box_b: Sequence[float], position_threshold: float = 0.1) -> set[str]:
    """Relations of A relative to B ("left of", "right of", "above", "below"), GenEval's geometry."""
    boxes = np.array([box_a[:4], box_b[:4]], dtype=np.float32).reshape(2, 2, 2)  # (box, corner, xy)
    centre_a, centre_b = boxes.mean(axis=-2)
    dim_a, dim_b = np.abs(np.diff(boxes, axis=-2))[..., 0, :]
    offset = centre_a - centre_b
    revised = np.maximum(np.abs(offset) - np.float32(position_threshold) * (dim_a + dim_b), 0) * np.sign(offset)
    if np.all(np.abs(revised) < np.float32(1e-3)):
        return set()
    dx, dy = revised / np.linalg.norm(offset)
    rels = set()
    if dx < -0.5:
        rels.add("left of")
    if dx > 0.5:
        rels.add("right of")
    if dy < -0.5:
        rels.add("above")
    if dy > 0.5:
        rels.add("below")
    return rels


def decide(
    metadata: Mapping[str, Any], detections: Mapping[str, Sequence[Detection]], position_threshold: float = 0.1
) -> tuple[bool, str]:
    """(correct, reason) for one image: GenEval's `evaluate` on already-selected detections.

    `detections[class]` must be sorted by confidence (as `select_detections` returns them); a
    colour clause needs "color" set on the `count` most confident detections of its class.
    """
    check_metadata(metadata)
    correct, reasons, groups = True, [], []
    for req in metadata["include"]:
        found = list(detections.get(req["class"], []))[: req["count"]]
        matched, why = _include(req, found, groups, position_threshold)
        reasons += why
        correct = correct and matched
        groups.append(found if matched else None)
    for req in metadata.get("exclude", []) or []:
        n = len(detections.get(req["class"], []))
        if n >= req["count"]:
            correct = False
            reasons.append(f"expected {req['class']}<{req['count']}, found {n}")
    return correct, "\n".join(reasons)


def _include(req: Mapping[str, Any], found: list[Detection], groups: list, threshold: float) -> tuple[bool, list[str]]:
    cls, count = req["class"], req["count"]
    if len(found) < count:
        return False, [f"expected {cls}>={count}, found {len(found)}"]
    if "color" in req:
        colors = [d.get("color") for d in found]
        if any(c is None for c in colors):
            raise ValueError(f"geneval: colour of a {cls} detection was not classified")
        if colors.count(req["color"]) < count:
            seen = ", ".join(f"{colors.count(c)} {c}" for c in COLORS if c in colors)
            return False, [
                f"expected {req['color']} {cls}>={count}, found {colors.count(req['color'])} {req['color']}; and {seen}"
            ]
    if "position" in req:
        return _position(req, found, groups, threshold)
    return True, []


def _position(req: Mapping[str, Any], found: list[Detection], groups: list, threshold: float) -> tuple[bool, list[str]]:
    rel, target = req["position"]
    if groups[target] is None:
        return False, [f"no target for {req['class']} to be {rel}"]
    for obj in found:
        for tgt in groups[target]:
            true_rels = relative_position(obj["box"], tgt["box"], threshold)
            if rel not in true_rels:
                found_rels = " and ".join(r for r in RELATIONS if r in true_rels)
                return False, [f"expected {req['class']} {rel} target, found {found_rels} target"]
    return True, []


def colour_requests(metadata: Mapping[str, Any]) -> dict[str, int]:
    """{class: how many of its most confident detections need a colour} for the judge."""
    need: dict[str, int] = {}
    for req in metadata["include"]:
        if "color" in req:
            need[req["class"]] = max(need.get(req["class"], 0), req["count"])
    return need
