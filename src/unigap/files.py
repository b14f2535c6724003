"""Files written whole or not at all, JSON read back with an error that names the file, PNG bytes.

Every file a command writes goes through `write_atomic` (temp file in the same directory, flush,
fsync, `os.replace`): a reader, or a rerun after `kill -9`, sees the old file or the new one, never
half of one. A kill leaves at most a `.NAME.*.tmp` file beside it, which the next write replaces.
A bottom layer (docs/layout.md): every layer writes files, and none of them needs the run store for it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unigap.errors import DataError
from unigap.faults import point

if TYPE_CHECKING:
    import numpy as np

PNG_COMPRESS_LEVEL = 6  # the run store names a PNG by the sha256 of these bytes: changing it stores new files


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` via a temp file in the same dir, fsync, then os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    point("file", str(path))


def write_text(path: str | Path, text: str) -> None:
    write_atomic(path, text.encode("utf-8"))


def write_json(path: str | Path, data: Any, indent: int | None = 2, **kwargs: Any) -> None:
    write_text(path, json.dumps(data, indent=indent, **kwargs))


def read_json(path: str | Path, fix: str = "") -> Any:
    """The JSON in `path`; DataError naming the file (and `fix`, the command that rewrites it) if it is
    missing or not valid JSON (cut short, edited by hand)."""
    path = Path(path)
    hint = f"; {fix}" if fix else ""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: not found{hint}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot be read ({err}){hint}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not valid JSON ({err}; the file is cut short or was edited){hint}") from None


def write_dir_atomic(path: str | Path, fill: Callable[[Path], None]) -> None:
    """Replace directory `path` with what `fill(tmp)` writes into a temp dir beside it: a reader, or a rerun
    after `kill -9`, sees the old directory or the new one (a kill between the two renames: neither; rerun)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}.{uuid.uuid4().hex[:8]}"
    tmp, old = path.with_name(f".{path.name}.{tag}.tmp"), path.with_name(f".{path.name}.{tag}.old")
    try:
        fill(tmp)
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        sync_dir(path.parent)
    finally:
        for leftover in (tmp, old):
            if leftover.exists():
                shutil.rmtree(leftover)
    point("file", str(path))


def sync_dir(path: str | Path) -> None:
    """fsync a directory, so that renames inside it survive a power cut (best effort)."""
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of an (H, W, 3) uint8 array (deterministic for a given Pillow)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buf.getvalue()
