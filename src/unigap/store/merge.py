"""Merging scale-out parts (RUN_DIR/parts/rank*.sqlite) into the main run DB.

Each rank of an `accelerate launch` writes its own part DB (same schema) and the shared
RUN_DIR/images. `merge_parts` copies every part's prompts, candidates, judgments and events into
RUN_DIR/run.sqlite. Candidates are matched on (source, prompt_id, idx) and get new ids in the
main DB; judgments follow their candidate, and a part's verdict replaces a failed one (a rank
that judged its failed verdicts again on a rerun). Events are copied past a per-part high-water mark kept
in meta["merge:<part file>"]. So merging again adds nothing, and part files are kept: a killed rank
resumes its own part and a later merge picks up what it added.
"""

from __future__ import annotations

import re
from pathlib import Path

from unigap.store.runstore import PARTS_DIR, RunStore

_COPY_PROMPTS = """
    INSERT INTO main.prompts (id, text, subtask, band, split, suite, spec, metadata, text_sha256)
    SELECT id, text, subtask, band, split, suite, spec, metadata, text_sha256 FROM part.prompts
    WHERE true ORDER BY rowid
    ON CONFLICT(id) DO NOTHING"""
_COPY_CANDIDATES = """
    INSERT INTO main.candidates (source, prompt_id, idx, seed, tokens, png, created)
    SELECT source, prompt_id, idx, seed, tokens, png, created FROM part.candidates WHERE true ORDER BY id
    ON CONFLICT(source, prompt_id, idx) DO NOTHING"""
_COPY_JUDGMENTS = """
    INSERT INTO main.judgments (candidate_id, judge, verdict, prob, score, raw, status, error, created)
    SELECT m.id, j.judge, j.verdict, j.prob, j.score, j.raw, j.status, j.error, j.created
    FROM part.judgments j JOIN part.candidates pc ON pc.id = j.candidate_id
    JOIN main.candidates m ON m.source = pc.source AND m.prompt_id = pc.prompt_id AND m.idx = pc.idx
    WHERE true ORDER BY j.id
    ON CONFLICT(candidate_id, judge) DO UPDATE SET
        verdict = excluded.verdict, prob = excluded.prob, score = excluded.score, raw = excluded.raw,
        status = excluded.status, error = excluded.error, created = excluded.created
    WHERE main.judgments.status = 'failed' AND excluded.status != 'failed'"""
_COPY_EVENTS = """
    INSERT INTO main.events (time, stage, message, data)
    SELECT time, stage, message, data FROM part.events WHERE id > ? ORDER BY id"""


def part_paths(run_dir: str | Path) -> list[Path]:
    """The part DBs of a run dir, by rank."""
    paths = (Path(run_dir) / PARTS_DIR).glob("rank*.sqlite")
    ranked = [(int(m.group(1)), p) for p in paths if (m := re.fullmatch(r"rank(\d+)\.sqlite", p.name))]
    return [p for _, p in sorted(ranked)]


def merge_parts(run_dir: str | Path) -> dict:
    """Copy every part into RUN_DIR/run.sqlite; returns the rows added {"parts", "prompts", ...}.

    Each part is merged in one transaction (SQLite cannot ATTACH inside a transaction), and each
    part's merge is idempotent, so a merge killed midway is completed by running it again.
    """
    totals = {"parts": 0, "prompts": 0, "candidates": 0, "judgments": 0, "events": 0}
    paths = part_paths(run_dir)
    for path in paths:  # bring each part to the current schema (or refuse a newer one) first
        RunStore._open(Path(run_dir), path, create=False).close()
    with RunStore.open(run_dir) as store:
        for path in paths:
            added = _merge_one(store, path)
            totals = {k: totals[k] + added.get(k, 0) for k in totals}
    return totals


def _merge_one(store: RunStore, path: Path) -> dict:
    """Attach one part, copy what the main DB lacks in one transaction, detach."""
    db = store._db
    with db.lock, db.guard(f"merge {path.name}"):
        db.conn.execute("ATTACH DATABASE ? AS part", (str(path),))
        try:
            with db.write(f"merge {path.name}") as c:
                added = _copy(c, f"merge:{path.name}")
        finally:
            db.conn.execute("DETACH DATABASE part")
    return {"parts": 1, **added}


def _copy(c, mark_key: str) -> dict:
    """Inside the merge transaction: copy each table and move the part's event high-water mark."""
    added = {
        name: c.execute(sql).rowcount
        for name, sql in (("prompts", _COPY_PROMPTS), ("candidates", _COPY_CANDIDATES), ("judgments", _COPY_JUDGMENTS))
    }
    row = c.execute("SELECT value FROM main.meta WHERE key = ?", (mark_key,)).fetchone()
    mark = int(row[0]) if row else 0
    added["events"] = c.execute(_COPY_EVENTS, (mark,)).rowcount
    last = c.execute("SELECT COALESCE(MAX(id), 0) FROM part.events").fetchone()[0]
    c.execute("INSERT OR REPLACE INTO main.meta (key, value) VALUES (?, ?)", (mark_key, str(max(mark, last))))
    return added
