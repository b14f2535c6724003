"""Migrations: applied once, missing ones applied on open, a newer DB refused; pragmas."""

from __future__ import annotations

import json
import sqlite3

import pytest
from store_helpers import make_prompts

from unigap.errors import UnigapError
from unigap.store import RunStore, schema
from unigap.store.runstore import DB_NAME


def _migrations(run_dir) -> list[tuple]:
    with sqlite3.connect(run_dir / DB_NAME) as db:
        return db.execute("SELECT name, applied FROM migrations ORDER BY rowid").fetchall()


def test_new_db_is_at_the_latest_version(tmp_path):
    with RunStore.open(tmp_path) as s:
        assert s.get_meta("schema_version") == 4 == schema.schema_version()
        assert s._db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s._db.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert s._db.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 10_000
    assert [name for name, _ in _migrations(tmp_path)] == [
        "m001_initial",
        "m002_judgment_score",
        "m003_failed_candidates",
        "m004_prompt_text_sha256",
    ]


def test_reopen_applies_nothing(tmp_path):
    RunStore.open(tmp_path).close()
    before = _migrations(tmp_path)
    with RunStore.open(tmp_path) as s:
        s.add_prompts(make_prompts(1))
    assert _migrations(tmp_path) == before


def test_older_db_gets_the_missing_migrations(tmp_path, monkeypatch):
    with RunStore.open(tmp_path) as s:
        s.add_prompts(make_prompts(2))

    def m005_add_notes(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE prompts ADD COLUMN notes TEXT")

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, m005_add_notes])
    with RunStore.open(tmp_path) as s:
        assert s.get_meta("schema_version") == 5
        assert len(s.prompts()) == 2
        cols = [r[1] for r in s._db.conn.execute("PRAGMA table_info(prompts)")]
        assert "notes" in cols
    assert [n for n, _ in _migrations(tmp_path)] == [
        "m001_initial",
        "m002_judgment_score",
        "m003_failed_candidates",
        "m004_prompt_text_sha256",
        "m005_add_notes",
    ]


def test_failed_migration_changes_nothing(tmp_path, monkeypatch):
    RunStore.open(tmp_path).close()

    def m005_broken(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE extra (x)")
        raise RuntimeError("bug in migration")

    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, m005_broken])
    with pytest.raises(RuntimeError):
        RunStore.open(tmp_path)
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'extra'").fetchall() == []
        assert json.loads(db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]) == 4


def test_version_1_db_gains_the_score_column(tmp_path):
    """A run written before judgments.score existed opens, is migrated, and keeps its verdicts."""
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        schema.m001_initial(db)
        db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied REAL NOT NULL)")
        db.execute("INSERT INTO migrations VALUES ('m001_initial', 0)")
        db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    with RunStore.open(tmp_path) as s:
        assert s.get_meta("schema_version") == 4
        cols = [r[1] for r in s._db.conn.execute("PRAGMA table_info(judgments)")]
    assert "score" in cols


def test_newer_db_is_refused(tmp_path):
    RunStore.open(tmp_path).close()
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        db.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(UnigapError, match="schema version 999.*newer than this unigap supports \\(4\\)"):
        RunStore.open(tmp_path)


def test_unknown_migration_is_refused(tmp_path):
    RunStore.open(tmp_path).close()
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        db.execute("INSERT INTO migrations (name, applied) VALUES ('m002_from_the_future', 0)")
    with pytest.raises(UnigapError, match="m002_from_the_future"):
        RunStore.open(tmp_path)


def test_not_a_database_is_refused(tmp_path):
    (tmp_path / DB_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UnigapError, match="not a database.*new --out dir"):
        RunStore.open(tmp_path)
