"""Kill-safety, concurrent writers, and storage errors (disk full, read-only, unwritable dirs)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from store_helpers import make_prompts, make_rows

from unigap.errors import UnigapError
from unigap.records import Judgment
from unigap.store import RunStore
from unigap.store.runstore import DB_NAME
from unigap.store.schema import MIGRATIONS

WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from unigap.records import Judgment, Prompt
    from unigap.store import RunStore
    from unigap.store.rows import CandidateIn

    def image(pid, i):
        return np.random.default_rng([int(pid[1:]), i]).integers(0, 256, (24, 24, 3), dtype=np.uint8)

    prompts = [Prompt(f"p{i}", f"prompt {i}", "color", "train", "s") for i in range(10)]
    with RunStore.open(sys.argv[1]) as s:
        s.add_prompts(prompts)
        for c in s.missing_judgments("self"):  # resume: judge what the last run stored but did not judge
            s.add_judgments("self", [(c.id, Judgment(c.idx % 2))])
        todo = s.missing_candidates("base", [p.id for p in prompts], 500)
        print("ready", flush=True)
        for k in range(0, len(todo), 4):
            chunk = todo[k : k + 4]
            ids = s.add_candidates("base", [CandidateIn(p, i, i, np.full(16, i), image(p, i)) for p, i in chunk])
            s.add_judgments("self", [(cid, Judgment(i % 2)) for cid, (_, i) in zip(ids, chunk)])
            s.log("gen", "chunk", {"k": k})
        print("finished", flush=True)
""")


def _image(pid: str, i: int) -> np.ndarray:
    return np.random.default_rng([int(pid[1:]), i]).integers(0, 256, (24, 24, 3), dtype=np.uint8)


def _run_and_kill(run_dir, delay: float) -> int:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(run_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _check_consistent(run_dir) -> int:
    plan = [(f"p{p}", i) for p in range(10) for i in range(500)]
    with RunStore.open(run_dir, create=False) as s:
        db = s._db.conn
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        cands = s.candidates()
        assert [(c.prompt_id, c.idx) for c in cands] == plan[: len(cands)]  # whole chunks, in order
        assert len(cands) % 4 == 0
        for c in cands:
            assert np.array_equal(s.load_image(c.png), _image(c.prompt_id, c.idx))
            assert np.array_equal(c.tokens, np.full(16, c.idx))
        counts = s.counts()
        assert counts["candidates"].get("base", 0) == len(cands)
        assert len(cands) - 4 <= counts["judgments"].get("self", 0) <= len(cands)
        return len(cands)


def test_sigkill_mid_run_leaves_a_consistent_resumable_store(tmp_path):
    stored = []
    for delay in (0.15, 0.3, 0.05, 0.4):
        assert _run_and_kill(tmp_path, delay) == -signal.SIGKILL
        stored.append(_check_consistent(tmp_path))
    assert stored == sorted(stored) and stored[-1] > 0 and stored[-1] < 5000  # progressed, never finished


@pytest.mark.parametrize("shared", [False, True], ids=["own-connections", "shared-store"])
def test_two_threads_writing_judgments(tmp_path, shared):
    with RunStore.open(tmp_path) as s:
        s.add_prompts(make_prompts(3))
        cands = [s.candidate(i) for i in s.add_candidates("base", make_rows(["p0", "p1", "p2"], 10))]
    shared_store = RunStore.open(tmp_path) if shared else None
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        s = shared_store or RunStore.open(tmp_path)
        try:
            for c in cands:  # each write its own transaction, interleaved with the other thread
                s.add_judgments(f"human:{name}", [(c.id, Judgment(1, raw=name))])
                s.add_judgments("self", [(c.id, Judgment(int(name == "b"), raw=name))])
                s.log("label", name, {"candidate": c.id})
        except BaseException as err:  # noqa: BLE001
            errors.append(err)
        finally:
            if shared_store is None:
                s.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if shared_store is not None:
        shared_store.close()
    assert errors == []
    with RunStore.open(tmp_path) as s:
        assert s.counts()["judgments"] == {"human:a": 30, "human:b": 30, "self": 30}
        assert len(s.judgments()) == 90 and len(s.events("label")) == 60
        assert {r.raw for r in s.judgments("self")} <= {"a", "b"}
        assert s._db.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_disk_full_is_a_clear_error_and_loses_nothing(filled):
    before = (filled.candidates(), filled.counts())
    db = filled._db.conn
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0] + 3}")
    with pytest.raises(UnigapError) as err:
        filled.add_candidates("improved", make_rows(["p0", "p1", "p2"], 4, seed0=100, n_tokens=5000))
    msg = str(err.value)
    assert str(filled.root) in msg and "full" in msg and "Nothing stored so far was lost" in msg
    filled.close()
    with RunStore.open(filled.root) as s:
        assert (s.candidates(), s.counts()) == before


def test_read_only_database_is_a_clear_error(filled):
    filled._db.conn.execute("PRAGMA query_only = ON")
    with pytest.raises(UnigapError, match="readonly.*Nothing stored so far was lost"):
        filled.add_judgments("self", [(filled.candidates()[0].id, Judgment(1))])
    filled._db.conn.execute("PRAGMA query_only = OFF")
    assert filled.judgments() == []


def test_unwritable_images_dir_is_a_clear_error(store):
    store.add_prompts(make_prompts(1))
    (store.root / "images").write_text("not a directory")
    with pytest.raises(UnigapError, match="could not write the image"):
        store.add_candidates("base", make_rows(["p0"], 2))
    assert store.candidates() == []


def test_run_dir_below_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UnigapError, match="writable --out dir"):
        RunStore.open(tmp_path / "file" / "run")


def test_db_path_is_a_directory(tmp_path):
    (tmp_path / DB_NAME).mkdir()
    with pytest.raises(UnigapError, match=str(tmp_path)):
        RunStore.open(tmp_path)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_run_dir_in_a_pseudo_filesystem():
    with pytest.raises(UnigapError, match="writable --out dir"):
        RunStore.open("/proc/unigap-store-test/run")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(UnigapError, match="writable --out dir"):
            RunStore.open(ro / "run")
        with pytest.raises(UnigapError, match="writable --out dir"):
            RunStore.open(ro)
    finally:
        ro.chmod(0o700)


def test_sqlite_is_not_left_locked_after_an_error(filled):
    with pytest.raises(ValueError):
        filled.add_judgments("self", [(filled.candidates()[0].id, Judgment(1, status="bad"))])
    other = sqlite3.connect(filled.path, timeout=0.5)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()


def test_many_openers_of_a_new_run_dir(tmp_path):
    """Ranks or server workers that open the same new run dir at once all succeed (WAL switch races)."""
    for trial in range(5):
        run_dir, errors = tmp_path / str(trial), []

        def opener() -> None:
            try:
                with RunStore.open(run_dir) as s:
                    s.log(None, "opened")
            except BaseException as err:  # noqa: BLE001
                errors.append(err)

        threads = [threading.Thread(target=opener) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with RunStore.open(run_dir) as s:
            assert len(s.events()) == 6 and s.get_meta("schema_version") == len(MIGRATIONS)


def test_open_waits_while_another_connection_holds_a_new_db(tmp_path):
    """Switching a new DB to WAL needs it unlocked; open waits for the holder instead of failing."""
    raw = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None, check_same_thread=False)
    raw.execute("CREATE TABLE other (a)")  # still a rollback-journal DB
    raw.execute("BEGIN IMMEDIATE")
    raw.execute("INSERT INTO other VALUES (1)")
    release = threading.Timer(0.3, lambda: raw.execute("COMMIT"))
    release.start()
    try:
        t0 = time.monotonic()
        with RunStore.open(tmp_path) as s:
            assert s._db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert time.monotonic() - t0 >= 0.2
    finally:
        release.join()
        raw.close()
