"""Synthetic model outputs for the T2I-CompBench fixtures, shared by the generator
(tools/official/t2i_compbench/make_fixtures.py, which feeds them to the official scripts through stubs) and
the tests (which feed them to unigap's rules). Everything is a pure function of (category, line, text), so
neither side stores the inputs.

- `yes_prob`: BLIP's P(yes) for one question (a float32-exact value in (0, 1));
- `detections`: UniDet-like output [(label, [x1, y1, x2, y2], score)] sorted by score, labels drawn from the
  prompt's words (plus "person", "hot <word>" substring variants and near-duplicate boxes), integer boxes in a
  W x H frame, scores >= 0.5 (UniDet's confidence threshold) and float32-exact;
- `depth`: a uint8 (H, W) depth map (gradient + rectangles), the PNG the official 3D script reads;
- `image_feature` / `text_feature`: 8-d CLIP embeddings keyed by the image's (category, line) and by the text.
"""

from __future__ import annotations

import hashlib
import random
import re

import numpy as np

W, H = 64, 48  # image size; the official stubs keep it (identity transform), so boxes and depth share the frame
NUMBER = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}


def rng(*key: object) -> random.Random:
    return random.Random("|".join(map(str, key)))  # str seeds hash with sha512: stable across Python versions


def yes_prob(category: str, line: int, question: str) -> float:
    h = int(hashlib.sha256(f"{category}|{line}|{question}".encode()).hexdigest()[:6], 16)  # 24 bits
    return (h + 0.5) / 2**24  # float32-exact


STOP = {
    "the",
    "and",
    "with",
    "was",
    "were",
    "are",
    "its",
    "their",
    "from",
    "for",
    "into",
    "onto",
    "side",
    "top",
    "left",
    "right",
    "front",
    "behind",
    "bottom",
    "near",
    "next",
    "hidden",
}


def words(prompt: str) -> list[str]:
    return re.findall(r"[A-Za-z]+", prompt)


def content_words(prompt: str) -> list[str]:
    return [w for w in words(prompt) if len(w) > 2 and w.lower() not in STOP]


def _score(r: random.Random) -> float:
    return (512 + int(r.random() * 512)) / 1024  # [0.5, 1), exact in float32


def _box(r: random.Random) -> list[int]:
    x1, y1 = int(r.random() * (W - 8)), int(r.random() * (H - 8))
    return [x1, y1, x1 + 2 + int(r.random() * (W - x1 - 2)), y1 + 2 + int(r.random() * (H - y1 - 2))]


def detections(category: str, line: int, prompt: str) -> list[tuple[str, list[int], float]]:
    """0-7 detections of the prompt's content words (and "person", "hot <last word>"); for numeracy, per
    counted word 0..n+1 boxes of its rough singular."""
    r = rng("det", category, line)
    ws, cw = words(prompt), content_words(prompt)
    pool = cw + ["person", "hot " + cw[-1]] if cw else ["person"]
    dets = []
    if category == "numeracy":
        for i, w in enumerate(ws[:-1]):
            if w in NUMBER:
                n, label = NUMBER[w], ws[i + 1].rstrip("s") if r.random() < 0.7 else ws[i + 1]
                k = [n, n, max(n - 1, 0), n + 1, 0][int(r.random() * 5)]
                dets += [(label, _box(r), _score(r)) for _ in range(k)]
    for _ in range(int(r.random() * 8)):
        dets.append((pool[int(r.random() * len(pool))], _box(r), _score(r)))
    if dets and r.random() < 0.4:  # a near-duplicate (IoU > 0.9) of a detection, same label
        lab, b, s = dets[int(r.random() * len(dets))]
        dets.append((lab, [b[0] + 1, b[1], b[2], b[3]], _score(r)))
    return sorted(dets, key=lambda d: -d[2])  # detectron2 returns instances by decreasing score (stable sort)


def depth(category: str, line: int) -> np.ndarray:
    r = rng("depth", category, line)
    yy, xx = np.mgrid[0:H, 0:W]
    d = (int(r.random() * 64) + xx * int(r.random() * 3) + yy * int(r.random() * 3)).astype(np.int64)
    for _ in range(3):
        x1, y1, x2, y2 = _box(r)
        d[y1:y2, x1:x2] = int(r.random() * 256)
    return np.clip(d, 0, 255).astype(np.uint8)


def _vector(r: random.Random) -> list[float]:
    return [r.random() * 2 - 1 for _ in range(8)]


def image_feature(category: str, line: int) -> list[float]:
    return _vector(rng("image", category, line))


def text_feature(text: str) -> list[float]:
    return _vector(rng("text", text))
