"""Golden fixtures from GenEval's own rule code (djghosh13/geneval, evaluation/*.py).

    python tools/official/geneval/make_fixtures.py /path/to/geneval [--out tests/fixtures/official/geneval]

Runs the official `evaluate_images.py` (`evaluate_image`, `evaluate`, `relative_position`,
`color_classification`, `ImageCrops`) and `summary_scores.py` on fixed synthetic detections,
colour logits and results, and writes small JSON fixtures of what they decided. The checkout
must be at COMMIT (checked). Nothing of the official code is copied: it is imported from the
checkout. Its heavy imports (mmdet, open_clip, clip_benchmark) are stubbed here: the detector
returns the case's detections, the CLIP zero-shot classifier returns the case's colour logits,
and the crop transform returns a checksum of the crop; everything else is the official code.
Needs numpy 1.23.x, pandas 1.5.3, pillow 9.4.0 (the official environment.yml) and torch; see
README.md. The output is deterministic (no randomness outside fixed-seed generators).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import subprocess
import sys
import tempfile
import types
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np

COMMIT = "af4902f24d3ca90ebbb446dd9891a59e0f82725f"
REPO = "djghosh13/geneval"
IMAGE_W, IMAGE_H = 48, 40
COLORS = ["red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white"]
RELATIONS = ["left of", "right of", "above", "below"]


# ---- synthetic inputs (the tests rebuild them with the same formulas) --------------------------


def synthetic_image() -> np.ndarray:
    """(H, W, 3) uint8: pixel = (7x + 13y + 101c) mod 256."""
    y, x, c = np.meshgrid(np.arange(IMAGE_H), np.arange(IMAGE_W), np.arange(3), indexing="ij")
    return ((7 * x + 13 * y + 101 * c) % 256).astype(np.uint8)


def synthetic_mask(k: int) -> np.ndarray:
    """(H, W) bool: ((3x + 5y + k) mod 7) < 4."""
    y, x = np.meshgrid(np.arange(IMAGE_H), np.arange(IMAGE_W), indexing="ij")
    return ((3 * x + 5 * y + k) % 7) < 4


def crop_checksum(image) -> list[int]:
    """[w, h, sum_r, sum_g, sum_b, position-weighted sums r, g, b] of a PIL crop."""
    arr = np.asarray(image.convert("RGB"), dtype=np.int64)  # (h, w, 3)
    weights = (np.arange(arr.shape[0] * arr.shape[1], dtype=np.int64) * 31 + 7) % 1009
    flat = arr.reshape(-1, 3)
    return [image.size[0], image.size[1], *flat.sum(0).tolist(), *(flat * weights[:, None]).sum(0).tolist()]


# ---- loading the official module with its heavy imports stubbed --------------------------------


class Stubs:
    """What the stubbed detector and zero-shot classifier return for the current case."""

    detections: tuple = ([], None)
    case: dict = {}
    logits: dict = {}
    crops: list = []


def _install_stubs() -> None:
    import torch

    mmdet = types.ModuleType("mmdet")
    mmdet.__file__ = "/nonexistent/mmdet/__init__.py"
    apis = types.ModuleType("mmdet.apis")
    apis.inference_detector = lambda model, path: Stubs.detections
    apis.init_detector = lambda *a, **k: None
    mmdet.apis = apis
    open_clip = types.ModuleType("open_clip")
    cb = types.ModuleType("clip_benchmark")
    metrics = types.ModuleType("clip_benchmark.metrics")
    zsc = types.ModuleType("clip_benchmark.metrics.zeroshot_classification")
    # the classifier "weights" are the class name, read back from the official templates
    zsc.zero_shot_classifier = lambda model, tok, classnames, templates, device: templates[0].split("{c} ", 1)[1]
    zsc.run_classification = _run_classification
    cb.metrics, metrics.zeroshot_classification = metrics, zsc
    sys.modules.update(
        {
            "mmdet": mmdet,
            "mmdet.apis": apis,
            "open_clip": open_clip,
            "clip_benchmark": cb,
            "clip_benchmark.metrics": metrics,
            "clip_benchmark.metrics.zeroshot_classification": zsc,
        }
    )
    del torch


def _run_classification(model, classname, dataloader, device):
    import torch

    crops = [row.tolist() for batch, _ in dataloader for row in batch]  # runs the official ImageCrops
    Stubs.crops.append({"class": classname, "crops": crops})
    # each crop's logits are those of the detection it shows (its row among the case's detections)
    rows = [
        Stubs.logits[classname][_index(Stubs.case["detections"][classname], box.tolist())]
        for box, _ in dataloader.dataset._objects
    ]
    return torch.tensor(rows, dtype=torch.float32), torch.zeros(len(crops))


def load_official(checkout: Path) -> types.ModuleType:
    import torch

    _install_stubs()
    real = torch.cuda.is_available
    torch.cuda.is_available = lambda: True  # the module asserts DEVICE == "cuda" at import
    try:
        spec = importlib.util.spec_from_file_location(
            "geneval_evaluate_images", checkout / "evaluation" / "evaluate_images.py"
        )
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        torch.cuda.is_available = real
    with open(checkout / "evaluation" / "object_names.txt") as f:
        mod.classnames = [line.strip() for line in f]
    mod.object_detector, mod.clip_model, mod.tokenizer = None, None, None
    mod.transform = lambda image: torch.tensor(crop_checksum(image), dtype=torch.int64)
    mod.color_classification = _recording(mod.color_classification)
    return mod


def configure(mod: types.ModuleType, options: dict) -> None:
    """The module globals that evaluate_images.py's __main__ sets from --options."""
    mod.args = types.SimpleNamespace(options=dict(options))
    mod.THRESHOLD = float(options.get("threshold", 0.3))
    mod.COUNTING_THRESHOLD = float(options.get("counting_threshold", 0.9))
    mod.MAX_OBJECTS = int(options.get("max_objects", 16))
    mod.NMS_THRESHOLD = float(options.get("max_overlap", 1.0))
    mod.POSITION_THRESHOLD = float(options.get("position_threshold", 0.1))
    mod.COLOR_CLASSIFIERS.clear()


# ---- cases -----------------------------------------------------------------------------------

F32 = np.float32


def f32(x: float) -> float:
    """The float32 value nearest x, as the exact Python float."""
    return float(F32(x))


def up(x: float) -> float:
    return float(np.nextafter(F32(x), F32(np.inf)))


def down(x: float) -> float:
    return float(np.nextafter(F32(x), F32(-np.inf)))


def det(x1, y1, x2, y2, score, mask=None) -> list:
    """[x1, y1, x2, y2, score(, mask id)] as float32 values (integers written as such)."""
    return [num(f32(v)) for v in (x1, y1, x2, y2, score)] + ([mask] if mask is not None else [])


def num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else float(x)


def inc(cls, count=1, color=None, position=None) -> dict:
    r = {"class": cls, "count": count}
    if color:
        r["color"] = color
    if position:
        r["position"] = list(position)
    return r


def meta(tag, include, exclude=None) -> dict:
    m = {"tag": tag, "include": include}
    if exclude:
        m["exclude"] = exclude
    m["prompt"] = f"synthetic {tag}"
    return m


def onehot(i: int, scale: int = 5) -> list[int]:
    return [scale if k == i else 0 for k in range(10)]


def hand_cases() -> list[dict]:
    c = []

    def add(name, m, dets, logits=None, options=None):
        c.append(
            {"id": name, "metadata": m, "detections": dets, "colour_logits": logits or {}, "options": options or {}}
        )

    add("single/present", meta("single_object", [inc("dog")]), {"dog": [det(1, 2, 20, 30, 0.95)]})
    add("single/absent", meta("single_object", [inc("dog")]), {"cat": [det(1, 2, 20, 30, 0.95)]})
    add("single/empty", meta("single_object", [inc("dog")]), {})
    add(
        "two/both",
        meta("two_object", [inc("dog"), inc("cup")]),
        {"dog": [det(0, 0, 5, 5, 0.8)], "cup": [det(9, 9, 12, 12, 0.7)]},
    )
    add("two/one", meta("two_object", [inc("dog"), inc("cup")]), {"dog": [det(0, 0, 5, 5, 0.8)]})
    add("two/none", meta("two_object", [inc("dog"), inc("cup")]), {})
    # the 0.3 / 0.9 thresholds at the float32 boundary (mmdet's scores are float32)
    for name, s in [("f32(0.3)", f32(0.3)), ("up(0.3)", up(0.3)), ("down(0.3)", down(0.3)), ("0.31", 0.31)]:
        add(f"threshold/{name}", meta("single_object", [inc("cup")]), {"cup": [det(3, 3, 30, 30, s)]})
    for name, s in [("f32(0.9)", f32(0.9)), ("up(0.9)", up(0.9)), ("down(0.9)", down(0.9))]:
        add(
            f"counting_threshold/{name}",
            meta("counting", [inc("clock", 2)], [inc("clock", 3)]),
            {"clock": [det(0, 0, 9, 9, 0.95), det(20, 0, 29, 9, s)]},
        )
    add(
        "threshold/option_0.5_exact",
        meta("single_object", [inc("cup")]),
        {"cup": [det(3, 3, 30, 30, 0.5)]},
        options={"threshold": "0.5"},
    )
    add(
        "threshold/option_0.1_f32",
        meta("single_object", [inc("cup")]),
        {"cup": [det(3, 3, 30, 30, f32(0.1))]},
        options={"threshold": "0.1"},
    )
    # counting, exclude, max 16 per class
    for n in (2, 3, 4):
        for k in (n - 1, n, n + 1):
            add(
                f"counting/{n}_of_{k}",
                meta("counting", [inc("apple", n)], [inc("apple", n + 1)]),
                {"apple": [det(4 * i, 0, 4 * i + 3, 3, 0.91 + 0.01 * i) for i in range(k)]},
            )
    add(
        "max16/exclude17_with_20",
        meta("counting", [inc("apple", 16)], [inc("apple", 17)]),
        {"apple": [det(2 * i, 0, 2 * i + 1, 1, 0.95) for i in range(20)]},
    )
    add(
        "max16/option_max_objects_3",
        meta("counting", [inc("apple", 2)], [inc("apple", 3)]),
        {"apple": [det(2 * i, 0, 2 * i + 1, 1, 0.95) for i in range(5)]},
        options={"max_objects": "3"},
    )
    add(
        "exclude/plain",
        meta("single_object", [inc("dog")], [inc("cat", 1)]),
        {"dog": [det(0, 0, 5, 5, 0.8)], "cat": [det(10, 0, 15, 5, 0.5)]},
    )
    # ties: which detection is "the most confident" decides colour and position
    add(
        "tie/position_two_dogs",
        meta("position", [inc("cup"), inc("dog", position=("left of", 0))]),
        {"cup": [det(20, 10, 28, 18, 0.9)], "dog": [det(0, 10, 8, 18, 0.8), det(38, 10, 46, 18, 0.8)]},
    )
    add(
        "tie/position_two_cups",
        meta("position", [inc("cup"), inc("dog", position=("left of", 0))]),
        {"cup": [det(0, 10, 8, 18, 0.9), det(38, 10, 46, 18, 0.9)], "dog": [det(20, 10, 28, 18, 0.8)]},
    )
    add(
        "tie/colour_two_cars",
        meta("colors", [inc("car", color="red")]),
        {"car": [det(0, 0, 10, 10, 0.7), det(20, 0, 30, 10, 0.7)]},
        {"car": [onehot(0), onehot(4)]},
    )
    add(
        "tie/three_way",
        meta("position", [inc("cup"), inc("dog", position=("right of", 0))]),
        {
            "cup": [det(20, 10, 28, 18, 0.9)],
            "dog": [det(0, 10, 8, 18, 0.8), det(38, 10, 46, 18, 0.8), det(1, 10, 9, 18, 0.8)],
        },
    )
    for n in (15, 16, 17, 18, 24, 40, 100):
        rng = np.random.default_rng(n)
        cells = rng.choice(40 * 32, n, replace=False)  # distinct boxes
        dets = [
            det(int(p % 40), int(p // 40), int(p % 40) + 4, int(p // 40) + 4, s)
            for p, s in zip(cells, rng.choice([0.5, 0.7, 0.95], n))
        ]
        add(
            f"tie/many_{n}",
            meta("position", [inc("cup"), inc("bowl", 2, position=("left of", 0))]),
            {"cup": [det(20, 10, 28, 18, 0.9)], "bowl": dets},
        )
        add(
            f"tie/many_{n}_counting",
            meta("counting", [inc("bowl", 4)], [inc("bowl", 5)]),
            {"bowl": [d[:4] + [f32(0.95) if i % 3 else f32(0.93)] for i, d in enumerate(dets)]},
        )
    # orders that drive numpy 1.23's introsort into its heapsort fallback, all kept (max_objects 100)
    for name, pattern in (("killer_100", median_of_3_killer(100)), ("sawtooth_64", [i % 7 for i in range(64)])):
        top = max(pattern) + 1
        add(
            f"tie/{name}",
            meta("counting", [inc("bowl", 2)], [inc("bowl", 3)]),
            {
                "bowl": [
                    det(i % 40, i // 40, i % 40 + 3, i // 40 + 3, 0.35 + 0.6 * p / top) for i, p in enumerate(pattern)
                ]
            },
            options={"max_objects": "100"},
        )
    # positions: each relation, passes and fails, dead zone, diagonal, groups, no target
    boxes = {
        "left of": (0, 16, 8, 24),
        "right of": (40, 16, 48, 24),
        "above": (20, 0, 28, 8),
        "below": (20, 32, 28, 40),
        "centre": (20, 16, 28, 24),
        "diag": (2, 2, 10, 10),
        "near": (21, 16, 29, 24),
    }
    for rel in RELATIONS:
        for where, b in boxes.items():
            add(
                f"position/{rel}/{where}",
                meta("position", [inc("cup"), inc("dog", position=(rel, 0))]),
                {"cup": [det(*boxes["centre"], 0.9)], "dog": [det(*b, 0.8)]},
            )
    add(
        "position/no_target",
        meta("position", [inc("cup"), inc("dog", position=("left of", 0))]),
        {"dog": [det(0, 0, 5, 5, 0.8)]},
    )
    add(
        "position/group_of_two",
        meta("position", [inc("cup", 2), inc("dog", 2, position=("left of", 0))]),
        {
            "cup": [det(30, 0, 36, 6, 0.9), det(30, 30, 36, 36, 0.85)],
            "dog": [det(0, 0, 6, 6, 0.8), det(0, 30, 6, 36, 0.7), det(40, 0, 46, 6, 0.6)],
        },
    )
    add(
        "position/group_of_two_fails",
        meta("position", [inc("cup", 2), inc("dog", 2, position=("left of", 0))]),
        {
            "cup": [det(30, 0, 36, 6, 0.9), det(30, 30, 36, 36, 0.85)],
            "dog": [det(0, 0, 6, 6, 0.8), det(40, 30, 46, 36, 0.7)],
        },
    )
    add(
        "position/threshold_option_0.3",
        meta("position", [inc("cup"), inc("dog", position=("left of", 0))]),
        {"cup": [det(*boxes["centre"], 0.9)], "dog": [det(10, 16, 18, 24, 0.8)]},
        options={"position_threshold": "0.3"},
    )
    # colours: verdicts, ties in the logits, two clauses, masks and crops
    for i, col in enumerate(COLORS):
        add(
            f"colour/{col}",
            meta("colors", [inc("vase", color="blue")]),
            {"vase": [det(5, 5, 25, 25, 0.9)]},
            {"vase": [onehot(i)]},
        )
    add(
        "colour/logit_tie",
        meta("colors", [inc("vase", color="green")]),
        {"vase": [det(5, 5, 25, 25, 0.9)]},
        {"vase": [[0, 0, 0, 3, 3, 0, 0, 0, 0, 0]]},
    )
    add(
        "colour/logit_tie_reversed",
        meta("colors", [inc("vase", color="blue")]),
        {"vase": [det(5, 5, 25, 25, 0.9)]},
        {"vase": [[0, 0, 0, 3, 3, 0, 0, 0, 0, 0]]},
    )
    add(
        "colour_attr/both",
        meta("color_attr", [inc("car", color="red"), inc("bench", color="white")]),
        {"car": [det(0, 0, 10, 10, 0.9)], "bench": [det(20, 0, 47, 10, 0.8)]},
        {"car": [onehot(0)], "bench": [onehot(9)]},
    )
    add(
        "colour_attr/second_wrong",
        meta("color_attr", [inc("car", color="red"), inc("bench", color="white")]),
        {"car": [det(0, 0, 10, 10, 0.9)], "bench": [det(20, 0, 47, 10, 0.8)]},
        {"car": [onehot(0)], "bench": [onehot(8)]},
    )
    add(
        "colour/count2_one_wrong",
        meta("colors", [inc("cup", 2, color="red")]),
        {"cup": [det(0, 0, 10, 10, 0.9), det(20, 0, 30, 10, 0.8), det(30, 20, 40, 30, 0.7)]},
        {"cup": [onehot(0), onehot(3), onehot(0)]},
    )
    add(
        "colour/masked_crops",
        meta("colors", [inc("cup", 2, color="red")]),
        {"cup": [det(3, 4, 21, 30, 0.9, mask=1), det(10.5, 2.5, 40.5, 33.5, 0.8, mask=2)]},
        {"cup": [onehot(0), onehot(0)]},
    )
    add(
        "colour/masked_crops_original_bg",
        meta("colors", [inc("cup", 2, color="red")]),
        {"cup": [det(3, 4, 21, 30, 0.9, mask=3), det(11.5, 2.5, 41.5, 33.5, 0.8, mask=4)]},
        {"cup": [onehot(0), onehot(1)]},
        options={"bgcolor": "original"},
    )
    add(
        "colour/no_crop",
        meta("colors", [inc("cup", 1, color="red")]),
        {"cup": [det(3, 4, 21, 30, 0.9, mask=5)]},
        {"cup": [onehot(0)]},
        options={"crop": "0"},
    )
    add(
        "colour/unmasked_crop",
        meta("colors", [inc("cup", 1, color="red")]),
        {"cup": [det(3.5, 4.5, 21, 30, 0.9)]},
        {"cup": [onehot(0)]},
    )
    # NMS when asked (max_overlap < 1)
    add(
        "nms/0.5",
        meta("counting", [inc("cup", 2)], [inc("cup", 3)]),
        {"cup": [det(0, 0, 10, 10, 0.95), det(1, 1, 11, 11, 0.94), det(20, 20, 30, 30, 0.93)]},
        options={"max_overlap": "0.5"},
    )
    return c


def median_of_3_killer(n: int) -> list[int]:
    """Musser's sequence that defeats median-of-3 pivots (drives introsort to its heapsort)."""
    k, out = n // 2, [0] * n
    for i in range(1, k + 1):
        if i % 2:
            out[i - 1], out[i] = i, k + i
        out[k + i - 1] = 2 * i
    return out


def random_cases(n: int, seed: int = 1) -> list[dict]:
    rng = np.random.default_rng(seed)
    classes = ["dog", "cup", "car", "bench", "clock", "apple", "bowl", "vase"]
    scores = [f32(0.3), up(0.3), f32(0.9), up(0.9), 0.5, 0.95, 0.95, 0.8]
    out = []
    for i in range(n):
        tag = ["single_object", "two_object", "counting", "colors", "position", "color_attr"][i % 6]
        a, b, d = rng.choice(classes, 3, replace=False).tolist()
        col = lambda: COLORS[int(rng.integers(10))]  # noqa: E731
        k = int(rng.integers(2, 5))
        m = {
            "single_object": lambda: meta(tag, [inc(a)]),
            "two_object": lambda: meta(tag, [inc(a), inc(b)]),
            "counting": lambda: meta(tag, [inc(a, k)], [inc(a, k + 1)]),
            "colors": lambda: meta(tag, [inc(a, color=col())]),
            "position": lambda: meta(tag, [inc(b), inc(a, position=(RELATIONS[int(rng.integers(4))], 0))]),
            "color_attr": lambda: meta(tag, [inc(a, color=col()), inc(b, color=col())]),
        }[tag]()
        dets, logits = {}, {}
        for cls in (a, b, d):
            n_det = int(rng.choice([0, 1, 1, 2, 3, 4, 5, 6, 17]))
            rows = []
            for _ in range(n_det):
                x, y = int(rng.integers(0, 40)), int(rng.integers(0, 32))
                w, h = int(rng.integers(1, 9)), int(rng.integers(1, 9))
                s = scores[int(rng.integers(len(scores)))] if rng.random() < 0.7 else float(rng.random())
                rows.append(det(x, y, x + w, y + h, s))
            if rows:
                dets[cls] = rows
            if rows and any(r.get("color") and r["class"] == cls for r in m["include"]):
                logits[cls] = rng.integers(0, 3, (len(rows), 10)).tolist()  # ties are common
        out.append({"id": f"random/{i:03d}", "metadata": m, "detections": dets, "colour_logits": logits, "options": {}})
    return out


# ---- running the official code ---------------------------------------------------------------


def detector_output(mod, case: dict) -> tuple:
    """(bbox, segm) as mmdet 2.x returns them: per class a float32 (n, 5) array and a list of masks."""
    bbox, segm, any_mask = [], [], False
    for cls in mod.classnames:
        rows = case["detections"].get(cls, [])
        bbox.append(np.array([d[:5] for d in rows], dtype=np.float32).reshape(-1, 5))
        masks = [synthetic_mask(d[5]) if len(d) > 5 else None for d in rows]
        any_mask |= any(m is not None for m in masks)
        segm.append(masks)
    if not any_mask:
        return bbox, None
    full = np.ones((IMAGE_H, IMAGE_W), bool)
    return bbox, [[full if m is None else m for m in ms] for ms in segm]


def run_case(mod, case: dict, image_path: str) -> dict:
    configure(mod, case["options"])
    Stubs.detections = detector_output(mod, case)
    Stubs.case, Stubs.logits, Stubs.crops = case, case["colour_logits"], []
    result = mod.evaluate_image(image_path, case["metadata"])
    kept = {
        cls: [_index(case["detections"][cls], row) for row in rows]
        for cls, rows in json.loads(result["details"]).items()
    }
    return {"correct": bool(result["correct"]), "reason": result["reason"], "kept": kept, "colour_calls": Stubs.crops}


def _index(rows: list, kept_row: list) -> int:
    """Index of the input detection the official code kept (rows are unique within a class)."""
    hits = [i for i, d in enumerate(rows) if np.array_equal(np.float32(d[:5]), np.float32(kept_row))]
    assert len(hits) == 1, (rows, kept_row)
    return hits[0]


def _recording(color_classification):
    """The official color_classification, its answer recorded beside the crops it classified."""

    def wrapper(image, bboxes, classname):
        colours = color_classification(image, bboxes, classname)
        Stubs.crops[-1]["colours"] = colours
        return colours

    return wrapper


def relative_positions(mod, n_grid: int = 500, n_float: int = 150) -> list[list]:
    """[box_a(4), box_b(4), position_threshold, sorted relations] for many box pairs."""
    rng = np.random.default_rng(7)
    out = []
    for k in range(n_grid + n_float):
        if k < n_grid:  # small integer boxes: exact ratios, offsets equal to the dead zone
            a = rng.integers(0, 12, 4)
            b = rng.integers(0, 12, 4)
            a[2:] += a[:2] + 1
            b[2:] += b[:2] + 1
            thr = [0.1, 0.1, 0.1, 0.2, 0.25, 0.0][k % 6]
        else:
            a = rng.random(4) * 40
            b = rng.random(4) * 40
            thr = 0.1
        a, b = [f32(v) for v in a], [f32(v) for v in b]
        mod.POSITION_THRESHOLD = thr
        rels = mod.relative_position((np.array(a + [1.0], np.float32), None), (np.array(b + [1.0], np.float32), None))
        out.append([a, b, thr, sorted(rels)])
    return out


def summaries(checkout: Path, mod, cases: list[dict], results: list[dict]) -> list[dict]:
    """summary_scores.py's printed report on results tables built from the cases."""
    rng = np.random.default_rng(3)
    tables = []
    key = {c["id"]: f"m{i}" for i, c in enumerate(cases)}  # summary_scores.py groups prompts by this string
    rows = [
        {"tag": c["metadata"]["tag"], "metadata": key[c["id"]], "correct": r["correct"]} for c, r in zip(cases, results)
    ]
    tables.append(rows)
    # several images per prompt (GenEval's 4 samples), tags interleaved, some prompts never right
    multi = []
    for c in cases[:60]:
        for _ in range(4):
            multi.append({"tag": c["metadata"]["tag"], "metadata": key[c["id"]], "correct": bool(rng.random() < 0.4)})
    order = rng.permutation(len(multi))
    tables.append([multi[i] for i in order])
    tables.append(
        [{"tag": "counting", "metadata": "m1", "correct": True}, {"tag": "colors", "metadata": "m2", "correct": False}]
    )
    out = []
    for rows in tables:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "results.jsonl"
            with open(path, "w") as f:
                for i, r in enumerate(rows):
                    f.write(
                        json.dumps({"filename": f"{i}.png", "prompt": "p", "reason": "", "details": "{}", **r}) + "\n"
                    )
            text = subprocess.run(
                [sys.executable, str(checkout / "evaluation" / "summary_scores.py"), str(path)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        out.append({"rows": [[r["tag"], r["metadata"], r["correct"]] for r in rows], "stdout": text})
    return out


# ---- main ------------------------------------------------------------------------------------


def check_commit(checkout: Path) -> None:
    head = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0 or head.stdout.strip() != COMMIT:
        found = head.stdout.strip() or head.stderr
        sys.exit(f"{checkout}: expected a git checkout of {REPO} at {COMMIT}, found {found}")


def environment() -> dict:
    import pandas
    import PIL
    import torch

    return {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "pandas": pandas.__version__,
        "pillow": PIL.__version__,
        "torch": torch.__version__,
    }


def write(path: Path, obj: dict) -> None:
    """JSON with one list item per line (small diffs when regenerated)."""
    lines = ["{"]
    items = list(obj.items())
    for i, (k, v) in enumerate(items):
        end = "," if i < len(items) - 1 else ""
        if isinstance(v, list):
            body = ",\n".join("  " + json.dumps(x, sort_keys=True) for x in v)
            lines.append(f"{json.dumps(k)}: [\n{body}\n]{end}")
        else:
            lines.append(f"{json.dumps(k)}: {json.dumps(v, sort_keys=True)}{end}")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkout", type=Path, help=f"a git checkout of {REPO} at {COMMIT}")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[3] / "tests/fixtures/official/geneval")
    args = ap.parse_args()
    if os.environ.get("PYTHONHASHSEED") != "0":  # GenEval joins sets of relations into reasons: fix their order
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})
    check_commit(args.checkout)
    mod = load_official(args.checkout.resolve())
    source = {
        "repo": REPO,
        "commit": COMMIT,
        "files": ["evaluation/evaluate_images.py", "evaluation/summary_scores.py", "evaluation/object_names.txt"],
        "env": environment(),
        "image": {"width": IMAGE_W, "height": IMAGE_H},
    }
    cases = hand_cases() + random_cases(150)
    with tempfile.TemporaryDirectory() as tmp:
        from PIL import Image

        image_path = str(Path(tmp) / "0000.png")
        Image.fromarray(synthetic_image()).save(image_path)
        with redirect_stdout(io.StringIO()):
            results = [run_case(mod, c, image_path) for c in cases]
    args.out.mkdir(parents=True, exist_ok=True)
    write(
        args.out / "decisions.json", {"source": source, "cases": [{**c, "expected": r} for c, r in zip(cases, results)]}
    )
    configure(mod, {})
    write(args.out / "relative_position.json", {"source": source, "pairs": relative_positions(mod)})
    write(args.out / "summary.json", {"source": source, "tables": summaries(args.checkout, mod, cases, results)})
    print(f"wrote {len(cases)} decision cases, relative positions and summaries to {args.out}")


if __name__ == "__main__":
    main()
