"""Request plumbing for the lmms-eval adapter that needs no lmms-eval: items, grouping, stop strings.

An `Item` is one lmms-eval request resolved against its document: the question text (lmms-eval's
context), the continuation (loglikelihood) or the generation settings (generate_until), and the
image as a uint8 array, or the error that stopped it from being resolved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from unigap.errors import UnigapError

DEFAULT_MAX_NEW_TOKENS = 128


@dataclass
class Item:
    index: int  # position in the request list
    task: str
    doc_id: int
    question: str
    image: np.ndarray | None = None  # (H, W, 3) uint8
    continuation: str = ""
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    until: list[str] = field(default_factory=list)
    error: str | None = None

    def key(self) -> tuple:
        """Items that may share a backend call: same image size, same generation length."""
        shape = None if self.image is None else self.image.shape
        return (shape, self.max_new_tokens)


def to_array(visual: Any, size: int | None = None) -> np.ndarray:
    """A PIL image (or array) -> (H, W, 3) uint8; resized (nearest) to size x size when given."""
    from PIL import Image

    img = visual if isinstance(visual, Image.Image) else Image.fromarray(np.asarray(visual, dtype=np.uint8))
    img = img.convert("RGB")
    if size is not None and img.size != (size, size):
        img = img.resize((size, size), Image.NEAREST)
    return np.asarray(img, dtype=np.uint8)


def one_image(visuals: Any, backend: str) -> Any:
    """The single image of a document; the unified backends answer about exactly one image."""
    if not isinstance(visuals, (list, tuple)):
        visuals = [visuals]
    flat = [v for v in visuals if v is not None]
    if len(flat) != 1:
        raise UnigapError(f"{len(flat)} visuals in this document; the {backend!r} backend answers about one image")
    return flat[0]


def generation_settings(gen_kwargs: dict | None) -> tuple[int, list[str]]:
    """(max_new_tokens, stop strings) from a task's generation_kwargs; decoding is always greedy."""
    kw = dict(gen_kwargs or {})
    until = kw.get("until") or []
    if isinstance(until, str):
        until = [until]
    if not isinstance(until, list):
        raise UnigapError(f"generation_kwargs.until must be a string or a list, not {type(until).__name__}")
    return int(kw.get("max_new_tokens") or DEFAULT_MAX_NEW_TOKENS), [u for u in until if u]


def cut_at_stop(text: str, until: Sequence[str]) -> str:
    """The text before the first stop string (lmms-eval's `until`)."""
    for stop in until:
        pos = text.find(stop)
        if pos >= 0:
            text = text[:pos]
    return text


def batches(items: Sequence[Item], batch_size: int) -> Iterator[list[Item]]:
    """Resolved items grouped by `Item.key`, in request order within a group, chunks of batch_size."""
    groups: dict[tuple, list[Item]] = {}
    for it in items:
        if it.error is None:
            groups.setdefault(it.key(), []).append(it)
    for group in groups.values():
        for i in range(0, len(group), batch_size):
            yield group[i : i + batch_size]


def run_batch(chunk: list[Item], call: Callable[[list[Item]], list], on_fail: Callable[[Item, str], None]) -> list:
    """call(chunk); if it raises, item by item, so one bad item fails alone (None for it)."""
    if len(chunk) > 1:
        try:
            return list(call(chunk))
        except Exception:  # noqa: BLE001 - a backend may fail in any way on one item: retry one by one
            pass
    out = []
    for it in chunk:
        try:
            out += list(call([it]))
        except Exception as err:  # noqa: BLE001
            on_fail(it, f"{type(err).__name__}: {err}")
            out.append(None)
    return out


def is_greedy(greedy: str, continuation: str) -> bool:
    """Whether greedy decoding produces the continuation (compared as whitespace-normalised text,
    followed by the end of the answer or a non-word character)."""
    g, c = " ".join(greedy.split()), " ".join(continuation.split())
    if not c or not g.startswith(c):
        return False
    return len(g) == len(c) or not g[len(c)].isalnum()
