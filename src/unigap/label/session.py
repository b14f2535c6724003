"""The labelling state behind the page: which item comes next, storing, skipping and undoing labels.

Every label goes to the run store at once (one transaction), so a killed server loses nothing and
a restarted one continues with the first unlabelled item of the sample. Skips live only in this
object (a skipped item comes back after the others). Several browser tabs may share one session:
each request names the candidate it labels, a second label of the same candidate is refused
(`LabelConflict`) unless it is an explicit change, and a lock makes each operation atomic here
while SQLite transactions make it atomic against other processes.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from unigap.label import HUMAN_RAW
from unigap.label.sampling import judge_name, sample_candidates
from unigap.store import Candidate, RunStore

WORDS = {1: "matches", 0: "does not match", None: "no verdict"}


class LabelConflict(Exception):
    """A label for a candidate that this labeller has already labelled (and no explicit change)."""

    def __init__(self, candidate_id: int, stored: int | None, wanted: int, judge: str) -> None:
        self.candidate_id, self.stored, self.wanted = candidate_id, stored, wanted
        same = stored == wanted
        tail = (
            "the same as this label, so nothing changed"
            if same
            else f"press c to change it to '{WORDS[wanted]}', or n to keep it"
        )
        super().__init__(
            f"candidate {candidate_id} was already labelled '{WORDS[stored]}' by {judge} (in another tab?): {tail}"
        )


class NotInSample(Exception):
    """A request for a candidate that is not in this session's sample."""


class LabelSession:
    """One labeller (judge human:<name>) working through a fixed sample of a run's candidates."""

    def __init__(self, store: RunStore, judge: str, sample: list[Candidate], show_judges: bool = False) -> None:
        self.store, self.judge, self.show_judges = store, judge, show_judges
        self.order = [c.id for c in sample]
        self.by_id = {c.id: c for c in sample}
        self.prompts = {p.id: p for p in store.prompts()}
        self.skipped: dict[int, None] = {}  # insertion-ordered set: oldest skip first
        self._sizes: dict[int, tuple[int, int]] = {}
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        store: RunStore,
        name: str,
        k: int | None = None,
        seed: int = 0,
        source: str | None = None,
        show_judges: bool = False,
    ) -> LabelSession:
        """A session over the seeded sample of `k` candidates (of `source`) of the run in `store`."""
        sample = sample_candidates(store.candidates(source=source), k, seed)
        return cls(store, judge_name(name), sample, show_judges)

    # ---- operations (each one request of the page) -------------------------------------------

    def state(self) -> dict[str, Any]:
        """Progress and the item to show next."""
        with self._lock:
            return self._state()

    def label(self, candidate_id: int, verdict: int, change: bool = False) -> dict[str, Any]:
        """Store a label (LabelConflict if one is stored and change is False); returns the next state."""
        with self._lock:
            self._check(candidate_id)
            stored = insert_label(self.store, self.judge, candidate_id, verdict, change)
            if stored is not _INSERTED:
                raise LabelConflict(candidate_id, stored, verdict, self.judge)
            self.skipped.pop(candidate_id, None)
            return self._state()

    def skip(self, candidate_id: int) -> dict[str, Any]:
        """Put an item at the back of the queue (for this session only)."""
        with self._lock:
            self._check(candidate_id)
            self.skipped.pop(candidate_id, None)
            self.skipped[candidate_id] = None
            return self._state()

    def undo(self) -> dict[str, Any]:
        """Delete this labeller's most recent label in the sample and show that item again."""
        with self._lock:
            undone = delete_last_label(self.store, self.judge, self.order)
            if undone is None:
                return {**self._state(), "notice": "nothing to undo"}
            return {**self._state(current=undone), "notice": f"undid the label of candidate {undone}"}

    # ---- helpers (called with the lock held) ---------------------------------------------------

    def _check(self, candidate_id: int) -> None:
        if candidate_id not in self.by_id:
            raise NotInSample(f"candidate {candidate_id} is not in this labelling sample")

    def _labelled(self) -> dict[int, int | None]:
        """{candidate_id: verdict} of this labeller's stored labels in the sample."""
        rows = self.store.judgments(judge=self.judge)
        return {r.candidate_id: r.verdict for r in rows if r.candidate_id in self.by_id}

    def _next_id(self, labelled: dict[int, int | None]) -> int | None:
        """The first unlabelled, unskipped item in sample order; else the oldest skipped one."""
        fresh = (cid for cid in self.order if cid not in labelled and cid not in self.skipped)
        later = (cid for cid in self.skipped if cid not in labelled)
        first = next(fresh, None)
        return first if first is not None else next(later, None)

    def _state(self, current: int | None = None) -> dict[str, Any]:
        labelled = self._labelled()
        cid = current if current is not None else self._next_id(labelled)
        return {
            "judge": self.judge,
            "done": len(labelled),
            "total": len(self.order),
            "skipped": sum(1 for s in self.skipped if s not in labelled),
            "item": None if cid is None else self.item(cid),
            "notice": None,
        }

    def item(self, candidate_id: int) -> dict[str, Any]:
        """What the page shows of a candidate (text is raw here; the page inserts it as text)."""
        c = self.by_id[candidate_id]
        p = self.prompts[c.prompt_id]
        w, h = self._size(c)
        item = {
            "id": c.id,
            "prompt": p.text,
            "prompt_id": c.prompt_id,
            "subtask": p.subtask,
            "band": p.band,
            "source": c.source,
            "idx": c.idx,
            "image": f"image/{c.id}",
            "width": w,
            "height": h,
        }
        if self.show_judges:
            item["judges"] = other_judges(self.store, c.id, self.judge)
        return item

    def _size(self, c: Candidate) -> tuple[int, int]:
        """Pixel size of a candidate's PNG (header only; cached: stored PNGs never change)."""
        if c.id not in self._sizes:
            from PIL import Image

            with Image.open(self.store.image_path(c.png)) as img:
                self._sizes[c.id] = img.size
        return self._sizes[c.id]


# ---- SQL the store has no method for ---------------------------------------------------------
# The store offers no atomic "insert unless present, tell me what was there" and no delete, so these
# run small statements in the store's own write transactions (same lock, same error handling).

_INSERTED = object()  # insert_label's answer when the label was stored


def insert_label(store: RunStore, judge: str, candidate_id: int, verdict: int, change: bool) -> Any:
    """Store a human label in one transaction; if one is stored and not `change`, keep it and return its verdict."""
    with store._db.write(f"store the label of candidate {candidate_id} by {judge!r}") as c:
        row = c.execute(
            "SELECT verdict FROM judgments WHERE candidate_id = ? AND judge = ?", (candidate_id, judge)
        ).fetchone()
        if row is not None and not change:
            return row[0]
        c.execute(
            "INSERT INTO judgments (candidate_id, judge, verdict, prob, raw, status, error, created) "
            "VALUES (?, ?, ?, NULL, ?, 'ok', NULL, ?) ON CONFLICT(candidate_id, judge) DO UPDATE SET "
            "verdict = excluded.verdict, prob = NULL, raw = excluded.raw, status = 'ok', error = NULL, "
            "created = excluded.created",
            (candidate_id, judge, int(verdict), HUMAN_RAW, time.time()),
        )
    return _INSERTED


def delete_last_label(store: RunStore, judge: str, candidate_ids: list[int]) -> int | None:
    """Delete `judge`'s most recently written label among `candidate_ids`; returns its candidate id."""
    with store._db.write(f"undo the last label by {judge!r}") as c:
        row = c.execute(
            "SELECT id, candidate_id FROM judgments WHERE judge = ? AND candidate_id IN "
            "(SELECT value FROM json_each(?)) ORDER BY created DESC, id DESC LIMIT 1",
            (judge, json.dumps(candidate_ids)),
        ).fetchone()
        if row is None:
            return None
        c.execute("DELETE FROM judgments WHERE id = ?", (row[0],))
    return row[1]


def other_judges(store: RunStore, candidate_id: int, judge: str) -> list[dict[str, Any]]:
    """The other judges' verdicts on one candidate (shown only with --show-judges)."""
    rows = store._db.query(
        "SELECT judge, verdict, status FROM judgments WHERE candidate_id = ? AND judge != ? ORDER BY judge",
        (candidate_id, judge),
    )
    return [{"judge": j, "verdict": v, "status": s} for j, v, s in rows]
