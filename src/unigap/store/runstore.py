"""RunStore: everything a run produces, in RUN_DIR/run.sqlite plus content-hashed PNGs.

Every write is one transaction and image files are written before the rows that point at them,
so a run killed at any moment (even with SIGKILL) reopens consistent and resumes: the stages
ask `missing_candidates` / `missing_judgments` and only do what is not stored yet.
Several processes and threads may write at once (WAL journal, BEGIN IMMEDIATE, busy timeout).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from unigap.config import diff_keys, flatten, upgraded
from unigap.errors import UnigapError
from unigap.records import Judgment, Prompt
from unigap.store.db import BUSY_TIMEOUT_S, Database, connect, dumps, loads
from unigap.store.images import check_content, check_image, load_png, store_png
from unigap.store.rows import Candidate, CandidateIn, JudgmentRow
from unigap.store.schema import check_not_newer, migrate, pending

DB_NAME = "run.sqlite"
PARTS_DIR = "parts"
STAGE_STATUSES = ("running", "done", "failed")
JUDGMENT_STATUSES = ("ok", "unparsed", "failed")
NOT_A_DB_FIX = "restore it, or use a new --out dir"

_PROMPT_COLS = "id, text, subtask, band, split, suite, spec, metadata"
_CAND_COLS = "c.id, c.source, c.prompt_id, c.idx, c.seed, c.tokens, c.png, c.created"
_REPLACE_JUDGMENT = (
    "DO UPDATE SET verdict = excluded.verdict, prob = excluded.prob, score = excluded.score, raw = excluded.raw, "
    "status = excluded.status, error = excluded.error, created = excluded.created"
)
_JUDGMENT_SELECT = """
    SELECT j.candidate_id, j.judge, j.verdict, j.prob, j.raw, j.status, j.error,
           c.prompt_id, p.subtask, p.band, c.source, c.idx, j.created, j.score
    FROM judgments j JOIN candidates c ON c.id = j.candidate_id JOIN prompts p ON p.id = c.prompt_id"""


def part_path(run_dir: str | Path, rank: int) -> Path:
    """The DB file of scale-out rank `rank`: RUN_DIR/parts/rank{rank}.sqlite."""
    return Path(run_dir) / PARTS_DIR / f"rank{int(rank)}.sqlite"


def _where(conds: dict[str, Any]) -> tuple[str, list]:
    """' WHERE a = ? AND ...' for the conditions whose value is not None (keys are SQL snippets)."""
    used = {k: v for k, v in conds.items() if v is not None}
    if not used:
        return "", []
    return " WHERE " + " AND ".join(used), list(used.values())


def _id_list(values: Iterable) -> str:
    """A JSON array for `x IN (SELECT value FROM json_each(?))` (no limit on the number of ids)."""
    return json.dumps(list(values))


def _tokens_blob(tokens: Any, what: str) -> bytes:
    """1-D integer tokens as int32 little-endian bytes; ValueError if they do not fit."""
    arr = np.asarray(tokens)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{what}: tokens must be a 1-D integer array, got {arr.dtype} {arr.shape}")
    if arr.size and (arr.min() < np.iinfo(np.int32).min or arr.max() > np.iinfo(np.int32).max):
        raise ValueError(f"{what}: token ids do not fit int32")
    return arr.astype("<i4").tobytes()


def _candidate(row: tuple) -> Candidate:
    tokens = np.frombuffer(row[5], dtype="<i4").astype(np.int64)
    return Candidate(row[0], row[1], row[2], row[3], row[4], tokens, row[6], row[7])


def _judgment_values(cid: Any, judge: str, j: Judgment, now: float) -> tuple:
    """Validate one verdict and return its judgments row (candidate_id, judge, ..., created)."""
    if j.status not in JUDGMENT_STATUSES:
        raise ValueError(
            f"judgment of candidate {cid} by {judge!r}: status must be one of {JUDGMENT_STATUSES}, got {j.status!r}"
        )
    if j.verdict is not None and int(j.verdict) not in (0, 1):
        raise ValueError(f"judgment of candidate {cid} by {judge!r}: verdict must be 1, 0 or None, got {j.verdict!r}")
    verdict = None if j.verdict is None else int(j.verdict)
    prob = None if j.prob is None else float(j.prob)
    score = None if j.score is None else float(j.score)
    return (int(cid), judge, verdict, prob, score, j.raw or "", j.status, j.error, now)


def _config_mismatch(root: Path, old: dict, new: dict, keys: list[str]) -> str:
    """The refusal message for a run dir reused with another config: the differing keys and the fix."""
    flat_old, flat_new = flatten(old), flatten(new)
    lines = [f"  {k}: stored {_show(flat_old, k)}, now {_show(flat_new, k)}" for k in keys[:20]]
    more = [f"  ... and {len(keys) - 20} more"] if len(keys) > 20 else []
    return "\n".join(
        [
            f"run dir {root} was started with a different config; these keys differ: {', '.join(keys)}",
            *lines,
            *more,
            "To continue this run, use the same config; to start a new run, pass a new --out dir.",
        ]
    )


def text_sha256(text: str) -> str:
    """The stored hash of a prompt's text (prompts.text_sha256)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _ids(ids: list[str], limit: int = 8) -> str:
    shown = ", ".join(repr(i) for i in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


@dataclass
class PromptChanges:
    """How the prompts given to a rerun differ from those a run holds (ids)."""

    changed: list[str] = field(default_factory=list)  # same id, another text
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changed or self.added or self.removed)

    def message(self, root: Path, add_flag: str) -> str:
        lines = [
            f"run dir {root} holds other prompts than the ones given (the prompt file or suite changed "
            "since the run started):"
        ]
        if self.changed:
            lines.append(
                f"  text changed: {_ids(self.changed)} (the stored results are about the old text; give a "
                "changed prompt a new id, or use a new --out)"
            )
        if self.added:
            lines.append(f"  added: {_ids(self.added)}")
        if self.removed:
            lines.append(f"  removed: {_ids(self.removed)}")
        if not self.changed:
            lines.append(
                f"To keep what is stored and audit only the added prompts, rerun with {add_flag} (removed "
                "prompts stay stored but leave this run's metrics); to start over, use a new --out."
            )
        return "\n".join(lines)


def prompt_changes(stored: dict[str, str], prompts: Iterable[Prompt]) -> PromptChanges:
    """Compare {id: text_sha256} a run holds with the prompts given now."""
    given = {p.id: text_sha256(p.text) for p in prompts}
    return PromptChanges(
        changed=[i for i, h in given.items() if i in stored and stored[i] != h],
        added=[i for i in given if i not in stored],
        removed=[i for i in stored if i not in given],
    )


def _show(flat: dict, key: str) -> str:
    return repr(flat[key]) if key in flat else "<absent>"


def _open_hint(err: BaseException) -> str:
    text = str(err).lower()
    if "locked" in text:
        return "another process holds it; retry when it is done"
    if "not a database" in text or "malformed" in text:
        return "it is not a unigap run database (or is corrupt); use a new --out dir"
    return "use a writable --out dir"


def check_out_dir(
    run_dir: str | Path,
    config: dict | None = None,
    defaults: dict | None = None,
    prompts: Iterable[Prompt] | None = None,
    add_prompts: bool = False,
    cls: type | None = None,
) -> None:
    """Before anything is written: `run_dir` must be a directory or absent, and a run already there must
    have the same config (options it lacks count as equal at their `defaults`; keys of config class `cls`
    renamed since are read under their new names), a schema this unigap
    reads and (given `prompts`) the same prompts: same ids, same texts; with add_prompts, added and
    removed ones are accepted (a changed text never is). Reads only."""
    root = Path(run_dir)
    if root.exists() and not root.is_dir():
        raise UnigapError(f"--out {root} is a file, not a run directory; choose another --out")
    path = root / DB_NAME
    if not path.exists():
        return
    try:
        # mode=rw: never creates the file; only reads. (A read-only connection would leave -wal/-shm files
        # behind, since it may not remove them on close.)
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
    except sqlite3.Error as err:
        raise UnigapError(f"{path}: cannot be read: {err}; {_open_hint(err)}") from None
    try:
        check_not_newer(conn, path)
        has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
        row = conn.execute("SELECT value FROM meta WHERE key = 'config'").fetchone() if has_meta else None
        stored = _stored_prompt_hashes(conn) if prompts is not None else {}
    except sqlite3.DatabaseError as err:
        raise UnigapError(f"{path}: not a usable unigap run database: {err}; {NOT_A_DB_FIX}") from None
    finally:
        conn.close()
    if config is not None and row is not None:
        old, new = upgraded(cls, loads(row[0], f"{path}: meta['config']")), json.loads(dumps(config))
        if old != new and (keys := diff_keys(old, new, defaults)):
            raise UnigapError(_config_mismatch(root, old, new, keys))
    if prompts is not None and stored:
        changes = prompt_changes(stored, prompts)
        if changes.changed or (changes and not add_prompts):
            raise UnigapError(changes.message(root, "--add-prompts"))


def _stored_prompt_hashes(conn: sqlite3.Connection) -> dict[str, str]:
    """{id: text_sha256} of a run DB opened read-only (a DB before schema 4 has no hash column: hashed here)."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'prompts'").fetchone():
        return {}
    return {pid: text_sha256(text) for pid, text in conn.execute("SELECT id, text FROM prompts ORDER BY rowid")}


def _connect_readonly(root: Path, path: Path) -> sqlite3.Connection:
    """A connection that only reads (PRAGMA query_only). In a writable run dir it is an ordinary one (so that
    it leaves no -wal/-shm files behind); in a read-only dir a WAL database needs its -shm file, and without
    it a database with no -wal left over is opened immutable (nothing can be pending), else refused."""
    import os

    if os.access(root, os.W_OK) and os.access(path, os.W_OK):
        try:
            conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
            conn.execute("PRAGMA query_only = ON")
            return conn
        except sqlite3.Error as err:
            raise UnigapError(f"{path}: cannot be read: {err}; {_open_hint(err)}") from None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as err:
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise UnigapError(
                f"{path}: cannot be read in place ({err}): its write-ahead log holds changes that only "
                "a writable run dir can apply; copy the run dir somewhere writable"
            ) from None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.Error as err:
        raise UnigapError(f"{path}: cannot be read: {err}") from None


class RunStore:
    """The run directory's database. Open with `RunStore.open(run_dir)`; use as a context manager."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.root: Path = db.root  # the run dir; PNG paths are relative to it
        self.path: Path = db.path  # the SQLite file

    # ---- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, run_dir: str | Path, create: bool = True) -> RunStore:
        """Open (and with create=True make) RUN_DIR/run.sqlite, applying pending migrations."""
        return cls._open(Path(run_dir), Path(run_dir) / DB_NAME, create)

    @classmethod
    def open_readonly(cls, run_dir: str | Path) -> RunStore:
        """Open RUN_DIR/run.sqlite for reading only (a run on a read-only disk, or someone else's): no
        migration, no journal change; every write method fails."""
        root = Path(run_dir)
        path = root / DB_NAME
        if not path.exists():
            raise UnigapError(f"{path}: no run store here (wrong run dir, or the run has not started)")
        conn = _connect_readonly(root, path)
        try:
            check_not_newer(conn, path)
            missing = pending(conn)
        except sqlite3.DatabaseError as err:
            conn.close()
            raise UnigapError(f"{path}: not a usable unigap run database: {err}; {NOT_A_DB_FIX}") from None
        if missing:
            conn.close()
            names = ", ".join(m.__name__ for m in missing)
            raise UnigapError(
                f"{path}: made by an older unigap (schema without {names}) "
                "and opened read-only, so it cannot be upgraded; copy the run dir somewhere writable"
            )
        return cls(Database(conn, root, path))

    @classmethod
    def open_part(cls, run_dir: str | Path, rank: int, create: bool = True) -> RunStore:
        """Open scale-out rank `rank`'s own DB (RUN_DIR/parts/rank{rank}.sqlite); images stay shared."""
        return cls._open(Path(run_dir), part_path(run_dir, rank), create)

    @classmethod
    def _open(cls, root: Path, path: Path, create: bool) -> RunStore:
        if not create and not path.exists():
            raise UnigapError(f"{path}: no run store here (wrong run dir, or the run has not started)")
        conn = cls._connect(root, path)
        db = Database(conn, root, path)
        try:
            with db.lock, db.guard("set up the database"):
                migrate(conn, path)
        except sqlite3.DatabaseError as err:
            conn.close()
            raise UnigapError(f"{path}: not a usable unigap run database: {err}; {NOT_A_DB_FIX}") from None
        except BaseException:
            conn.close()
            raise
        return cls(db)

    @staticmethod
    def _connect(root: Path, path: Path) -> sqlite3.Connection:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return connect(path)
        except (OSError, sqlite3.Error) as err:
            raise UnigapError(f"run dir {root}: cannot open {path} for writing: {err}; {_open_hint(err)}") from None

    def close(self) -> None:
        """Close the connection (idempotent). Everything written is already committed."""
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r})"

    # ---- meta and config -----------------------------------------------------------------

    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable value under `key` (replacing any previous one)."""
        with self._db.write(f"store meta {key!r}") as c:
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, dumps(value)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        """The value stored under `key`, or `default`; UnigapError if it is not valid JSON."""
        rows = self._db.query("SELECT value FROM meta WHERE key = ?", (key,))
        return default if not rows else loads(rows[0][0], f"{self.path}: meta[{key!r}]")

    def init_config(self, config: dict, defaults: dict | None = None, cls: type | None = None) -> None:
        """Store the resolved run config the first time; later, refuse a config that differs (options the
        stored one lacks count as equal at their `defaults`, keys of `cls` renamed since count under their
        new names: see `diff_keys`)."""
        new = json.loads(dumps(config))
        with self._db.write("store the run config") as c:
            row = c.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
            if row is None:
                c.execute("INSERT INTO meta (key, value) VALUES ('config', ?)", (dumps(new),))
                return
        old = upgraded(cls, loads(row[0], f"{self.path}: meta['config']"))
        if old != new and (keys := diff_keys(old, new, defaults)):
            raise UnigapError(_config_mismatch(self.root, old, new, keys))

    def config(self) -> dict | None:
        """The run config stored by init_config, or None."""
        return self.get_meta("config")

    # ---- prompts -------------------------------------------------------------------------

    def add_prompts(self, prompts: Iterable[Prompt]) -> None:
        """Store prompts (with the sha256 of their text) in one transaction; a prompt id already stored is
        left as it is, but one stored with another text is refused (nothing is written)."""
        rows = [
            (
                p.id,
                p.text,
                p.subtask,
                p.band,
                p.split,
                p.suite,
                None if p.spec is None else dumps(p.spec),
                dumps(p.metadata or {}),
                text_sha256(p.text),
            )
            for p in prompts
        ]
        with self._db.write(f"store {len(rows)} prompts") as c:
            c.executemany(
                f"INSERT INTO prompts ({_PROMPT_COLS}, text_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO NOTHING",
                rows,
            )
            stored = dict(
                c.execute(
                    "SELECT id, text_sha256 FROM prompts WHERE id IN (SELECT value FROM json_each(?))",
                    (_id_list(r[0] for r in rows),),
                ).fetchall()
            )
            changed = [r[0] for r in rows if stored.get(r[0]) != r[8]]
            if changed:
                raise UnigapError(
                    f"{self.path}: the run holds other texts for prompt id(s) {_ids(changed)}; "
                    "give a changed prompt a new id, or use a new --out"
                )

    def prompt_hashes(self) -> dict[str, str]:
        """{prompt id: sha256 of its stored text}, in insertion order."""
        return dict(self._db.query("SELECT id, text_sha256 FROM prompts ORDER BY rowid"))

    def prompts(self, split: str | None = None, subtask: str | None = None) -> list[Prompt]:
        """Stored prompts in insertion order, optionally of one split and/or subtask."""
        where, params = _where({"split = ?": split, "subtask = ?": subtask})
        rows = self._db.query(f"SELECT {_PROMPT_COLS} FROM prompts{where} ORDER BY rowid", params)
        return [self._prompt(r) for r in rows]

    def _prompt(self, r: tuple) -> Prompt:
        where = f"{self.path}: prompts[{r[0]!r}]"
        return Prompt(
            id=r[0],
            text=r[1],
            subtask=r[2],
            band=r[3],
            split=r[4],
            suite=r[5],
            spec=loads(r[6], where + ".spec"),
            metadata=loads(r[7], where + ".metadata") or {},
        )

    # ---- candidates ----------------------------------------------------------------------

    def missing_candidates(self, source: str, prompt_ids: Iterable[str], n: int) -> list[tuple[str, int]]:
        """(prompt_id, idx) pairs, idx < n, that `source` has not stored yet, in prompt order."""
        have = set(
            self._db.query(
                "SELECT prompt_id, idx FROM candidates WHERE source = ? UNION "
                "SELECT prompt_id, idx FROM failed_candidates WHERE source = ?",
                (source, source),
            )
        )
        return [(pid, i) for pid in dict.fromkeys(prompt_ids) for i in range(n) if (pid, i) not in have]

    def add_failed_candidates(self, source: str, rows: Iterable[tuple[str, int, int, str]]) -> None:
        """Record generation rows that failed: (prompt_id, idx, seed, reason); kept once, never re-requested."""
        values = [(source, pid, int(idx), int(seed), str(reason), time.time()) for pid, idx, seed, reason in rows]
        if not values:
            return
        with self._db.write(f"store {len(values)} failed candidates") as c:
            c.executemany(
                "INSERT INTO failed_candidates (source, prompt_id, idx, seed, reason, created) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(source, prompt_id, idx) DO NOTHING",
                values,
            )

    def failed_candidates(self, source: str | None = None) -> list[dict]:
        where, params = _where({"source = ?": source})
        rows = self._db.query(
            f"SELECT source, prompt_id, idx, seed, reason FROM failed_candidates{where} ORDER BY id", params
        )
        return [dict(zip(("source", "prompt_id", "idx", "seed", "reason"), r)) for r in rows]

    def add_candidates(self, source: str, rows: Iterable[CandidateIn]) -> list[int]:
        """Store candidates: PNG files first, then all rows in one transaction.

        Idempotent on (source, prompt_id, idx): a candidate already stored is kept as it was
        (its image is not rewritten). Returns the row ids of `rows`, in order.
        """
        rows = list(rows)
        if not rows:
            return []
        keys = [(r.prompt_id, int(r.idx)) for r in rows]
        self._check_prompts_exist({k[0] for k in keys})
        have = self._candidate_ids(source, keys)
        todo = {k: r for k, r in zip(keys, rows) if k not in have}
        values = [self._candidate_values(source, r) for r in todo.values()]
        with self._db.write(f"store {len(values)} candidates") as c:
            c.executemany(
                "INSERT INTO candidates (source, prompt_id, idx, seed, tokens, png, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(source, prompt_id, idx) DO NOTHING",
                values,
            )
        ids = self._candidate_ids(source, keys)
        return [ids[k] for k in keys]

    def _candidate_ids(self, source: str, keys: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """{(prompt_id, idx): id} of the stored candidates of `source` among `keys`' prompts."""
        rows = self._db.query(
            "SELECT prompt_id, idx, id FROM candidates WHERE source = ? AND prompt_id IN "
            "(SELECT value FROM json_each(?))",
            (source, _id_list({k[0] for k in keys})),
        )
        return {(pid, idx): cid for pid, idx, cid in rows}

    def _check_prompts_exist(self, prompt_ids: set[str]) -> None:
        rows = self._db.query(
            "SELECT value FROM json_each(?) WHERE value NOT IN (SELECT id FROM prompts)",
            (_id_list(sorted(prompt_ids)),),
        )
        if rows:
            missing = ", ".join(repr(r[0]) for r in rows[:5])
            raise UnigapError(
                f"{self.path}: candidates for prompts that are not stored ({missing}); call add_prompts first"
            )

    def _candidate_values(self, source: str, r: CandidateIn) -> tuple:
        """Validate one candidate, write its PNG, and return its row values."""
        what = f"candidate {source}/{r.prompt_id}/{r.idx}"
        blob, image = _tokens_blob(r.tokens, what), check_image(r.image, what)
        with self._db.guard(f"write the image of {what}"):
            png = store_png(self.root, image)
        return (source, r.prompt_id, int(r.idx), int(r.seed), blob, png, time.time())

    def candidates(self, source: str | None = None, prompt_ids: Iterable[str] | None = None) -> list[Candidate]:
        """Stored candidates in id order, optionally of one source and/or some prompts."""
        ids = None if prompt_ids is None else _id_list(prompt_ids)
        where, params = _where({"c.source = ?": source, "c.prompt_id IN (SELECT value FROM json_each(?))": ids})
        rows = self._db.query(f"SELECT {_CAND_COLS} FROM candidates c{where} ORDER BY c.id", params)
        return [_candidate(r) for r in rows]

    def count_candidates(self, source: str | None = None, prompt_ids: Iterable[str] | None = None) -> int:
        """How many candidates are stored (of one source and/or some prompts), without loading them."""
        ids = None if prompt_ids is None else _id_list(prompt_ids)
        where, params = _where({"c.source = ?": source, "c.prompt_id IN (SELECT value FROM json_each(?))": ids})
        return self._db.query(f"SELECT COUNT(*) FROM candidates c{where}", params)[0][0]

    def candidate(self, id: int) -> Candidate:
        """The candidate with row id `id`; UnigapError if there is none."""
        rows = self._db.query(f"SELECT {_CAND_COLS} FROM candidates c WHERE c.id = ?", (int(id),))
        if not rows:
            raise UnigapError(f"{self.path}: no candidate with id {id}")
        return _candidate(rows[0])

    def image_path(self, png: str) -> Path:
        """The absolute path of a stored PNG (png as stored in Candidate.png)."""
        return self.root / png

    def load_image(self, png: str) -> np.ndarray:
        """The (H, W, 3) uint8 pixels of a stored PNG, checked against its content hash."""
        return load_png(self.root, png)

    def verify_image(self, png: str) -> Path:
        """The path of a stored PNG after checking that it exists and still hashes to its name (for readers that
        copy the file rather than decode it: export)."""
        path = self.image_path(png)
        try:
            data = path.read_bytes()
        except OSError as err:
            raise UnigapError(f"run dir {self.root}: cannot read image {png}: {err}") from None
        check_content(self.root, png, data)
        return path

    # ---- judgments -----------------------------------------------------------------------

    def missing_judgments(self, judge: str, source: str | None = None, retry_failed: bool = False) -> list[Candidate]:
        """Candidates (of `source`) without a verdict row by `judge`, in id order.

        retry_failed=True also returns candidates whose stored verdict has status "failed"
        (store the retry with add_judgments(..., replace=True)).
        """
        failed = " AND j.status != 'failed'" if retry_failed else ""
        where, params = _where({"c.source = ?": source})
        cond = f"NOT EXISTS (SELECT 1 FROM judgments j WHERE j.candidate_id = c.id AND j.judge = ?{failed})"
        sql = f"SELECT {_CAND_COLS} FROM candidates c{where}{' AND ' if where else ' WHERE '}{cond} ORDER BY c.id"
        return [_candidate(r) for r in self._db.query(sql, [*params, judge])]

    def add_judgments(self, judge: str, items: Iterable[tuple[int, Judgment]], replace: bool = False) -> None:
        """Store `judge`'s verdicts [(candidate_id, Judgment)] in one transaction.

        A verdict already stored for (candidate, judge) is kept unless replace=True.
        """
        now = time.time()
        values = [_judgment_values(cid, judge, j, now) for cid, j in items]
        if not values:
            return
        conflict = _REPLACE_JUDGMENT if replace else "DO NOTHING"
        with self._db.write(f"store {len(values)} judgments by {judge!r}") as c:
            self._check_candidates_exist(c, [v[0] for v in values])
            c.executemany(
                "INSERT INTO judgments (candidate_id, judge, verdict, prob, score, raw, status, error, created) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(candidate_id, judge) {conflict}",
                values,
            )

    def _check_candidates_exist(self, c: sqlite3.Connection, ids: list[int]) -> None:
        rows = c.execute(
            "SELECT value FROM json_each(?) WHERE value NOT IN (SELECT id FROM candidates)",
            (_id_list(sorted(set(ids))),),
        ).fetchall()
        if rows:
            raise UnigapError(
                f"{self.path}: judgments for candidate ids that are not stored: "
                f"{', '.join(str(r[0]) for r in rows[:5])}"
            )

    def judgments(self, judge: str | None = None, source: str | None = None) -> list[JudgmentRow]:
        """Stored verdicts with their candidate's prompt_id/subtask/band/source/idx, by candidate then judge."""
        where, params = _where({"j.judge = ?": judge, "c.source = ?": source})
        rows = self._db.query(f"{_JUDGMENT_SELECT}{where} ORDER BY j.candidate_id, j.judge", params)
        return [JudgmentRow(*r) for r in rows]

    def judges(self) -> list[str]:
        """Names of the judges with at least one stored verdict, sorted."""
        return [r[0] for r in self._db.query("SELECT DISTINCT judge FROM judgments ORDER BY judge")]

    # ---- stages and events ---------------------------------------------------------------

    def set_stage(self, name: str, status: str, info: dict | None = None) -> None:
        """Record a stage's status ('running' | 'done' | 'failed') and info (replaces the previous)."""
        if status not in STAGE_STATUSES:
            raise ValueError(f"stage {name!r}: status must be one of {STAGE_STATUSES}, got {status!r}")
        with self._db.write(f"record stage {name!r}") as c:
            c.execute(
                "INSERT INTO stages (name, status, info, updated) VALUES (?, ?, ?, ?) ON CONFLICT(name) "
                "DO UPDATE SET status = excluded.status, info = excluded.info, updated = excluded.updated",
                (name, status, dumps(info or {}), time.time()),
            )

    def stage(self, name: str) -> dict | None:
        """{"status", "info", "updated"} of a stage, or None if it was never recorded."""
        rows = self._db.query("SELECT status, info, updated FROM stages WHERE name = ?", (name,))
        if not rows:
            return None
        status, info, updated = rows[0]
        return {"status": status, "info": loads(info, f"{self.path}: stages[{name!r}].info"), "updated": updated}

    def stages(self) -> list[dict]:
        """Every recorded stage as {"name", "status", "info", "updated"}, in first-recorded order."""
        rows = self._db.query("SELECT name, status, info, updated FROM stages ORDER BY rowid")
        return [
            {"name": n, "status": s, "info": loads(i, f"{self.path}: stages[{n!r}].info"), "updated": u}
            for n, s, i, u in rows
        ]

    def log(self, stage: str | None, message: str, data: Any = None) -> None:
        """Append an event to the run's log."""
        with self._db.write("append to the event log") as c:
            c.execute(
                "INSERT INTO events (time, stage, message, data) VALUES (?, ?, ?, ?)",
                (time.time(), stage, message, None if data is None else dumps(data)),
            )

    def events(self, stage: str | None = None) -> list[dict]:
        """Logged events {"id", "time", "stage", "message", "data"} in order, optionally of one stage."""
        where, params = _where({"stage = ?": stage})
        rows = self._db.query(f"SELECT id, time, stage, message, data FROM events{where} ORDER BY id", params)
        return [
            {"id": i, "time": t, "stage": s, "message": m, "data": loads(d, f"{self.path}: events[{i}].data")}
            for i, t, s, m, d in rows
        ]

    # ---- summaries -----------------------------------------------------------------------

    def counts(self) -> dict:
        """{"prompts": n, "candidates": {source: n}, "judgments": {judge: n},
        "unparsed": {judge: n}, "failed": {judge: n}} from one consistent snapshot."""
        with self._db.snapshot() as c:
            prompts = c.execute("SELECT COUNT(*) FROM prompts").fetchone()[0]
            cands = c.execute("SELECT source, COUNT(*) FROM candidates GROUP BY source ORDER BY source").fetchall()
            judged = c.execute(
                "SELECT judge, COUNT(*), SUM(status = 'unparsed'), SUM(status = 'failed') "
                "FROM judgments GROUP BY judge ORDER BY judge"
            ).fetchall()
            lost = c.execute(
                "SELECT source, COUNT(*) FROM failed_candidates GROUP BY source ORDER BY source"
            ).fetchall()
        out = {
            "prompts": prompts,
            "candidates": dict(cands),
            "judgments": {j: n for j, n, _, _ in judged},
            "unparsed": {j: u for j, _, u, _ in judged},
            "failed": {j: f for j, _, _, f in judged},
        }
        if lost:
            out["failed_candidates"] = dict(lost)
        return out
