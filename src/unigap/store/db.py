"""Low-level SQLite helpers: connecting, transactions, JSON columns, and user-facing errors."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from unigap.errors import UnigapError
from unigap.faults import point

BUSY_TIMEOUT_S = 60.0  # how long a writer waits for another writer (process or thread)

_STORAGE_ERRORS = (
    "disk is full",
    "readonly",
    "read-only",
    "unable to open",
    "disk i/o",
    "locked",
    "no such file",
    "permission",
)


def connect(path: Path) -> sqlite3.Connection:
    """Open `path` in autocommit mode (transactions are explicit), WAL journal, foreign keys on."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        _set_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def _set_wal(conn: sqlite3.Connection) -> None:
    """Switch to the WAL journal, waiting while another opener of a new DB holds it (no busy handler here)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def is_storage_error(err: BaseException) -> bool:
    """True for errors caused by the disk or the file system (full, read-only, locked), not by a bug."""
    if isinstance(err, OSError):
        return True
    return isinstance(err, sqlite3.OperationalError) and any(s in str(err).lower() for s in _STORAGE_ERRORS)


def storage_error(root: Path, err: BaseException, doing: str) -> UnigapError:
    """The message for a failed write: which run dir, why, and that earlier writes are intact."""
    return UnigapError(
        f"run dir {root}: could not {doing}: {err}. Nothing stored so far was lost (every write is one "
        f"transaction); fix the cause (disk space, permissions, another process holding the database) "
        f"and rerun the same command to continue where it stopped."
    )


class Database:
    """A connection shared by threads (one lock) and by processes (SQLite locks + busy timeout)."""

    def __init__(self, conn: sqlite3.Connection, root: Path, path: Path) -> None:
        self.conn, self.root, self.path = conn, root, path
        self.lock = threading.RLock()

    @contextmanager
    def write(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT); rolled back whole on any error."""
        with self.lock, self.guard(doing):
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        point("db", doing)

    def _rollback(self) -> None:
        """Undo the open transaction, if SQLite has not already done so itself (e.g. on disk full)."""
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same committed state."""
        with self.lock, self.guard("read the database"):
            self.conn.execute("BEGIN")
            try:
                yield self.conn
            finally:
                self._rollback()

    @contextmanager
    def guard(self, doing: str) -> Iterator[None]:
        """Turn storage errors (disk full, read-only, locked) into a UnigapError naming the run dir."""
        try:
            yield
        except (sqlite3.OperationalError, OSError) as err:
            if is_storage_error(err):
                raise storage_error(self.root, err, doing) from err
            raise

    def query(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        """Run one read statement and return all rows (each statement sees one consistent snapshot)."""
        with self.lock, self.guard("read the database"):
            return self.conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self.lock:
            self.conn.close()


def _default(obj: Any) -> Any:
    """JSON for numpy scalars/arrays and paths, which configs and stage infos often carry."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def dumps(value: Any) -> str:
    """Serialise a JSON column value."""
    return json.dumps(value, default=_default)


def loads(text: str | None, where: str) -> Any:
    """Parse a JSON column value; `where` names the table, row and column for the error."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError) as err:
        raise UnigapError(f"{where}: stored value is not valid JSON ({err}): {str(text)[:80]!r}") from None
