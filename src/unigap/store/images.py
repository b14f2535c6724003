"""Content-hashed PNG files under RUN_DIR/images/<sha[:2]>/<sha256>.png.

A file is named by the sha256 of its PNG bytes, so identical images are stored once and a
file's name verifies its content. Files are written to a temporary name, flushed to disk and
renamed into place, so a file at its final name is always complete.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np

from unigap.errors import UnigapError
from unigap.files import encode_png, write_atomic

IMAGES_DIR = "images"


def check_image(image: np.ndarray, what: str) -> np.ndarray:
    """An (H, W, 3) uint8 array, or ValueError naming `what`."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"{what}: image must be an (H, W, 3) uint8 array, got {arr.dtype} {arr.shape}")
    return np.ascontiguousarray(arr)


def png_relpath(data: bytes) -> str:
    """The run-dir-relative path of PNG bytes: images/<sha[:2]>/<sha256>.png."""
    sha = hashlib.sha256(data).hexdigest()
    return f"{IMAGES_DIR}/{sha[:2]}/{sha}.png"


def store_png(root: Path, image: np.ndarray) -> str:
    """Store an image under `root` (once per content) and return its relative path."""
    data = encode_png(image)
    rel = png_relpath(data)
    path = root / rel
    if not path.exists():
        write_atomic(path, data)
    return rel


def load_png(root: Path, rel: str, verify: bool = True) -> np.ndarray:
    """(H, W, 3) uint8 pixels of a stored PNG; UnigapError if the file is missing, unreadable or (verify)
    not the content its name (its sha256) says: a candidate image replaced after the audit stored it."""
    from PIL import Image, UnidentifiedImageError

    path = root / rel
    try:
        data = path.read_bytes()
    except OSError as err:
        raise UnigapError(f"run dir {root}: cannot read image {rel}: {err}") from None
    if verify:
        check_content(root, rel, data)
    try:
        with Image.open(io.BytesIO(data)) as img:
            return np.asarray(img.convert("RGB")).copy()
    except (OSError, UnidentifiedImageError) as err:
        raise UnigapError(f"run dir {root}: cannot read image {rel}: {err}") from None


def check_content(root: Path, rel: str, data: bytes) -> None:
    """A content-named file (images/<sha[:2]>/<sha256>.png) must hash to its name."""
    stem = Path(rel).stem
    if len(stem) != 64 or any(c not in "0123456789abcdef" for c in stem):
        return  # not a content-hashed name (never written by the store)
    actual = hashlib.sha256(data).hexdigest()
    if actual != stem:
        raise UnigapError(
            f"run dir {root}: image {rel} does not match its content hash (the file's sha256 is "
            f"{actual[:16]}...): it was replaced or corrupted after the audit stored it. Restore the "
            "file, or audit again into a new --out."
        )
