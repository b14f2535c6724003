"""The understanding evaluation's journal: finished backend batches, so a killed `unigap understand`
(or the understand stage of `unigap run`) resumes where it stopped instead of starting over.

OUT/responses.jsonl (understand/run.py's JOURNAL_FILE) is append-only: a header line naming the
model (understand/run.py's `model_identity`), then one line per finished batch, {"key", "outputs",
"calls" (backend calls by request kind)}, written and fsynced before the next batch starts (a kill
loses at most the batch in flight; a line cut by the kill is dropped on the next open). A batch
is found by the sha256 of what it asks (request kind, task, document, question, continuation or
length, image bytes); the batches themselves are formed as before, so a resumed evaluation makes the
same backend calls on the same batches and its scores equal an uninterrupted run's. A batch with a
failed item is not journaled: it runs again, and fails again with its reason recorded. A journal
written by another model (another identity), or one that does not parse, is set aside as
responses.jsonl.stale and a new one is started.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from unigap.faults import point
from unigap.files import write_text


def batch_key(kind: str, items: list[Any]) -> str:
    """sha256 of a batch's requests: kind and, per item, task, document, question, continuation,
    max_new_tokens and the image (shape and bytes)."""
    h = hashlib.sha256(kind.encode())
    for it in items:
        head = [it.task, it.doc_id, it.question, it.continuation, it.max_new_tokens, list(it.image.shape)]
        h.update(json.dumps(head).encode())
        h.update(hashlib.sha256(it.image.tobytes()).digest())
    return h.hexdigest()


class Journal:
    """Finished batches of one evaluation: `get(key)` -> (outputs, backend calls by kind) or None;
    `put` appends one."""

    def __init__(self, path: str | Path, identity: str) -> None:
        self.path, self.identity = Path(path), identity
        self.done: dict[str, tuple[list, dict[str, int]]] = {}
        self.replayed = 0
        self._open()

    def _open(self) -> None:
        try:
            lines = self._read_whole_lines()
            ours = bool(lines) and json.loads(lines[0]).get("model") == self.identity
            rows = [json.loads(line) for line in lines[1:]] if ours else []
            self.done = {r["key"]: (r["outputs"], dict(r["calls"])) for r in rows}
        except (ValueError, KeyError, TypeError, AttributeError):  # edited or damaged: not ours to trust
            ours, self.done = False, {}
        if self.path.exists() and not ours:
            os.replace(self.path, self.path.with_name(self.path.name + ".stale"))
        if not ours:
            write_text(self.path, json.dumps({"model": self.identity}) + "\n")

    def _read_whole_lines(self) -> list[str]:
        """The file's complete lines; a last line cut by a kill is truncated away (before anything is appended)."""
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        whole = data[: data.rfind(b"\n") + 1]
        if len(whole) != len(data):
            with open(self.path, "r+b") as fh:
                fh.truncate(len(whole))
        return [ln for ln in whole.decode().splitlines() if ln.strip()]

    def get(self, key: str) -> tuple[list, dict[str, int]] | None:
        hit = self.done.get(key)
        self.replayed += hit is not None
        return hit

    def put(self, key: str, outputs: list, calls: dict[str, int]) -> None:
        line = json.dumps({"key": key, "outputs": outputs, "calls": calls}) + "\n"
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        self.done[key] = (outputs, calls)
        point("journal", str(self.path))
