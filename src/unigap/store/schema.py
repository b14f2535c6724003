"""The run DB schema as an append-only list of migrations (the simonw/llm pattern).

Each migration is a function of a connection; `MIGRATIONS` lists them in order and is only ever
appended to. Applied migrations are recorded by name in the `migrations` table, and the number of
known migrations is the schema version, stored as meta["schema_version"]. Opening an older DB
applies the missing migrations in one transaction; a DB written by a newer unigap is refused.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from unigap.errors import UnigapError

Migration = Callable[[sqlite3.Connection], None]


def m001_initial(db: sqlite3.Connection) -> None:
    """Schema version 1.

    meta: key -> JSON value (config, provenance, schema_version, merge bookkeeping).
    prompts: one row per prompt; spec/metadata JSON; insertion order = rowid.
    candidates: one row per generated image; tokens = int32 little-endian bytes; png = path
      relative to the run dir; UNIQUE(source, prompt_id, idx) makes writes idempotent.
    judgments: one verdict per (candidate, judge); verdict 1/0/NULL, prob = P(match) or NULL.
    stages: per-stage status ('running'|'done'|'failed') and JSON info (results, timings).
    events: append-only log (time, stage, message, JSON data).
    """
    for statement in _M001:
        db.execute(statement)


_M001 = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE prompts (
        id TEXT PRIMARY KEY, text TEXT NOT NULL, subtask TEXT NOT NULL, band TEXT,
        split TEXT NOT NULL, suite TEXT NOT NULL, spec TEXT, metadata TEXT NOT NULL DEFAULT '{}')""",
    """CREATE TABLE candidates (
        id INTEGER PRIMARY KEY, source TEXT NOT NULL,
        prompt_id TEXT NOT NULL REFERENCES prompts(id), idx INTEGER NOT NULL, seed INTEGER NOT NULL,
        tokens BLOB NOT NULL, png TEXT NOT NULL, created REAL NOT NULL,
        UNIQUE (source, prompt_id, idx))""",
    "CREATE INDEX candidates_prompt ON candidates(prompt_id)",
    """CREATE TABLE judgments (
        id INTEGER PRIMARY KEY, candidate_id INTEGER NOT NULL REFERENCES candidates(id),
        judge TEXT NOT NULL, verdict INTEGER CHECK (verdict IN (0, 1)), prob REAL,
        raw TEXT NOT NULL DEFAULT '', status TEXT NOT NULL CHECK (status IN ('ok', 'unparsed', 'failed')),
        error TEXT, created REAL NOT NULL,
        UNIQUE (candidate_id, judge))""",
    "CREATE INDEX judgments_judge ON judgments(judge)",
    """CREATE TABLE stages (
        name TEXT PRIMARY KEY, status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
        info TEXT NOT NULL DEFAULT '{}', updated REAL NOT NULL)""",
    """CREATE TABLE events (
        id INTEGER PRIMARY KEY, time REAL NOT NULL, stage TEXT, message TEXT NOT NULL, data TEXT)""",
    "CREATE INDEX events_stage ON events(stage)",
]


def m002_judgment_score(db: sqlite3.Connection) -> None:
    """Schema version 2: judgments.score, a scorer's continuous score (NULL for plain verdicts)."""
    db.execute("ALTER TABLE judgments ADD COLUMN score REAL")


def m003_failed_candidates(db: sqlite3.Connection) -> None:
    """Schema version 3: failed_candidates, generation rows a backend could not produce (a served model's
    image that does not decode), with the reason; a resumed audit does not request them again."""
    db.execute("""CREATE TABLE failed_candidates (
        id INTEGER PRIMARY KEY, source TEXT NOT NULL, prompt_id TEXT NOT NULL REFERENCES prompts(id),
        idx INTEGER NOT NULL, seed INTEGER NOT NULL, reason TEXT NOT NULL, created REAL NOT NULL,
        UNIQUE (source, prompt_id, idx))""")


def m004_prompt_text_sha256(db: sqlite3.Connection) -> None:
    """Schema version 4: prompts.text_sha256, the sha256 of the prompt's text (UTF-8): a rerun whose prompt
    file changed is compared against what the run holds (stored rows are backfilled)."""
    import hashlib

    db.execute("ALTER TABLE prompts ADD COLUMN text_sha256 TEXT")
    rows = db.execute("SELECT id, text FROM prompts").fetchall()
    db.executemany(
        "UPDATE prompts SET text_sha256 = ? WHERE id = ?",
        [(hashlib.sha256(text.encode("utf-8")).hexdigest(), pid) for pid, text in rows],
    )


MIGRATIONS: list[Migration] = [m001_initial, m002_judgment_score, m003_failed_candidates, m004_prompt_text_sha256]


def schema_version() -> int:
    """The schema version this code writes: the number of known migrations."""
    return len(MIGRATIONS)


def _tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _applied(db: sqlite3.Connection) -> list[str]:
    if "migrations" not in _tables(db):
        return []
    return [r[0] for r in db.execute("SELECT name FROM migrations ORDER BY rowid")]


def _stored_version(db: sqlite3.Connection, path: Path) -> int | None:
    if "meta" not in _tables(db):
        return None
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        return None if row is None else int(json.loads(row[0]))
    except (ValueError, TypeError):
        raise UnigapError(f"{path}: meta['schema_version'] is not a number: {row[0]!r}") from None


def check_not_newer(db: sqlite3.Connection, path: Path) -> None:
    """Refuse a DB written by a newer unigap (a higher schema version or unknown migrations)."""
    version, known = _stored_version(db, path), {m.__name__ for m in MIGRATIONS}
    unknown = [name for name in _applied(db) if name not in known]
    if (version is not None and version > schema_version()) or unknown:
        raise UnigapError(
            f"{path} has schema version {version} (migrations {unknown or 'known'}), newer than this "
            f"unigap supports ({schema_version()}). Upgrade unigap to read this run, or use a new --out dir."
        )


def pending(db: sqlite3.Connection) -> list[Migration]:
    """Migrations not yet applied to `db`, in order."""
    done = set(_applied(db))
    return [m for m in MIGRATIONS if m.__name__ not in done]


def migrate(db: sqlite3.Connection, path: Path) -> list[str]:
    """Bring `db` up to date in one transaction; returns the names of the migrations applied."""
    check_not_newer(db, path)
    if not pending(db):
        return []
    db.execute("BEGIN IMMEDIATE")
    try:
        names = _apply_pending(db, path)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return names


def _apply_pending(db: sqlite3.Connection, path: Path) -> list[str]:
    """Inside the write lock: re-check (another process may have migrated) and apply what is missing."""
    check_not_newer(db, path)
    db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied REAL NOT NULL)")
    names = []
    for migration in pending(db):
        migration(db)
        db.execute("INSERT INTO migrations (name, applied) VALUES (?, ?)", (migration.__name__, time.time()))
        names.append(migration.__name__)
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (json.dumps(schema_version()),))
    return names
