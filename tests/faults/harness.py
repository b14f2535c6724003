"""The fault-injection harness: kill a real CLI process with SIGKILL at chosen points, rerun, compare.

A `Job` is one CLI command and the files it produces. The harness

1. runs it uninterrupted with UNIGAP_FAULT_LOG set: the reference outputs and the list of kill points
   the command passes (unigap.faults.point: every database commit, every file written, every
   training step, every step of a checkpoint commit, every curriculum batch);
2. for each chosen kill point k: starts from the job's inputs in a fresh directory, runs it with
   UNIGAP_FAULT_KILL=k (the process SIGKILLs itself there), checks that it really died, reruns the
   same command (or kills it again first, for chains of kills) and compares the final outputs with
   the reference: they must be equal (bit-identical tensors, rows and JSON, timings left out).

Kill points are chosen spread over the whole run (first, last, evenly between) plus the first and the
last point matching each of the job's `must` globs (e.g. each step of one checkpoint commit).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tests.faults.zygote import cli

Snapshot = Callable[[Path], dict]


@dataclass
class Job:
    name: str
    argv: Callable[[Path], list]  # the command line, given the job's work dir
    snapshot: Snapshot  # the outputs to compare, given the work dir
    setup: Callable[[Path], None] = lambda work: None  # the job's inputs, written into a fresh work dir
    must: tuple[str, ...] = ()  # also kill at the first and last point whose "name detail" matches each glob


@dataclass
class Reference:
    points: list[tuple[str, str]]  # (name, detail) of every kill point the uninterrupted run passed
    snapshot: dict
    seconds: float


@dataclass
class Outcome:
    k: int
    point: tuple[str, str]
    equal: bool
    diff: str = ""
    kills: list[int] = field(default_factory=list)


def fresh(job: Job, root: Path, tag: str) -> Path:
    work = root / f"{job.name}-{tag}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    job.setup(work)
    return work


def reference(job: Job, root: Path) -> Reference:
    work = fresh(job, root, "reference")
    log = work / "points.log"
    t0 = time.time()
    res = cli(job.argv(work), {"UNIGAP_FAULT_LOG": str(log)}, cwd=work, log=work / "out.log")
    assert res.code == 0, f"{job.name}: the uninterrupted run failed ({res.code}):\n{res.output[-3000:]}"
    points = [tuple(line.split("\t", 1)) for line in log.read_text().splitlines()] if log.exists() else []
    return Reference(points, snapshot(job, work), time.time() - t0)


def choose(points: list[tuple[str, str]], spread: int, must: tuple[str, ...]) -> list[int]:
    """1-based kill points: `spread` spread evenly over the run (first and last included), plus the first
    and the last point whose "name detail" matches each `must` glob (e.g. "db store * judgments by 'self'*":
    the first and the last batch of the self-judge)."""
    import fnmatch

    n = len(points)
    picked = {int(round(x)) for x in np.linspace(1, n, min(spread, n))} if n else set()
    for glob in must:
        hits = [i + 1 for i, (name, detail) in enumerate(points) if fnmatch.fnmatchcase(f"{name} {detail}", glob)]
        assert hits, f"no kill point matches {glob!r}: the table names a moment the job never passes"
        picked |= {hits[0], hits[-1]}
    return sorted(picked)


def kill_then_finish(job: Job, root: Path, ref: Reference, kills: list, tag: str) -> Outcome:
    """Kill at kills[0] (a point of the uninterrupted run), then run again killed at kills[1] (the k-th point
    that rerun passes, or a "GLOB:k" spec), ... then rerun to the end; compare with the reference. A rerun
    that finishes before its kill point ends the chain (the kills it took are recorded)."""
    work = fresh(job, root, tag)
    done: list = []
    for i, k in enumerate(kills):
        res = cli(job.argv(work), {"UNIGAP_FAULT_KILL": str(k)}, cwd=work, log=work / f"kill{i}.log")
        if res.killed:
            done.append(k)
            continue
        assert i > 0, f"{job.name}: expected a SIGKILL at point {k}, got exit {res.code}:\n{res.output[-3000:]}"
        assert res.code == 0, f"{job.name}: rerun {i} exit {res.code}:\n{res.output[-3000:]}"
        break
    else:
        res = cli(job.argv(work), cwd=work, log=work / "rerun.log")
    first = kills[0]
    point = ref.points[first - 1] if isinstance(first, int) and first <= len(ref.points) else (str(first), "")
    if res.code != 0:
        return Outcome(first, point, False, f"rerun exit {res.code}:\n{res.output[-3000:]}", done)
    snap = snapshot(job, work)
    return Outcome(first, point, snap == ref.snapshot, diff_text(ref.snapshot, snap), done)


def subprocess_kill_after(job: Job, root: Path, ref: Reference, delay: float, tag: str) -> Outcome:
    """`python -m unigap ...` killed with SIGKILL `delay` seconds after its first write (a seeded random
    moment; the imports before it are not counted), then rerun and compared."""
    work = fresh(job, root, tag)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    before = _files(work)
    with open(work / "killed.log", "w") as log:
        p = subprocess.Popen(
            [sys.executable, "-m", "unigap", *map(str, job.argv(work))],
            cwd=work,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        while p.poll() is None and _files(work) == before:
            time.sleep(0.02)
        try:
            p.wait(delay)
            how = f"finished within {delay:.2f} s of its first write (no kill)"
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.wait()
            how = f"{delay:.2f} s after its first write"
    res = cli(job.argv(work), cwd=work, log=work / "rerun.log")
    if res.code != 0:
        return Outcome(-1, ("delay", how), False, f"rerun exit {res.code}:\n{res.output[-3000:]}")
    snap = snapshot(job, work)
    return Outcome(-1, ("delay", how), snap == ref.snapshot, diff_text(ref.snapshot, snap))


def _files(work: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(work)) - 1  # the log file itself


def snapshot(job: Job, work: Path) -> dict:
    """The job's outputs with its work dir's path replaced by "<work>" (each copy runs in its own dir)."""
    return normalise(job.snapshot(work), str(work))


def normalise(data, work: str):
    if isinstance(data, str):
        return data.replace(work, "<work>")
    if isinstance(data, dict):
        return {normalise(k, work): normalise(v, work) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(normalise(v, work) for v in data)
    return data


def diff_text(a: dict, b: dict) -> str:
    keys = sorted(set(a) | set(b))
    bad = [k for k in keys if a.get(k) != b.get(k)]
    return "; ".join(f"{k}: reference {str(a.get(k))[:300]} != rerun {str(b.get(k))[:300]}" for k in bad[:5])


# ---- snapshots ---------------------------------------------------------------------------------


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def drop(data, keys: tuple[str, ...]):
    """`data` without the keys (anywhere in nested dicts/lists) that hold wall times."""
    if isinstance(data, dict):
        return {k: drop(v, keys) for k, v in data.items() if k not in keys}
    if isinstance(data, list):
        return [drop(v, keys) for v in data]
    return data


TIMES = ("seconds", "stage_seconds", "train_seconds_this_session", "created", "updated", "time", "wall_s")


def run_db(run: Path) -> dict:
    """What a run store holds, without row ids, timestamps, provenance and the event log."""
    conn = sqlite3.connect(f"file:{run / 'run.sqlite'}?mode=ro", uri=True)
    try:
        q = lambda sql: conn.execute(sql).fetchall()  # noqa: E731
        cand = "JOIN candidates c ON c.id = j.candidate_id"
        stages = [
            (n, s, json.dumps(drop(json.loads(i), TIMES), sort_keys=True))
            for n, s, i in q("SELECT name, status, info FROM stages ORDER BY name")
        ]
        return {
            "prompts": q("SELECT * FROM prompts ORDER BY rowid"),
            "candidates": q(
                "SELECT source, prompt_id, idx, seed, tokens, png FROM candidates ORDER BY source, prompt_id, idx"
            ),
            "failed_candidates": q(
                "SELECT source, prompt_id, idx, seed, reason FROM failed_candidates ORDER BY source, prompt_id, idx"
            ),
            "judgments": q(
                f"SELECT c.source, c.prompt_id, c.idx, j.judge, j.verdict, j.prob, j.score, j.raw, "
                f"j.status, j.error FROM judgments j {cand} ORDER BY c.source, c.prompt_id, c.idx, j.judge"
            ),
            "stages": stages,
            "meta": q(
                "SELECT key, value FROM meta WHERE key NOT IN ('provenance') AND key NOT LIKE 'merge:%' ORDER BY key"
            ),
        }
    finally:
        conn.close()


def images(run: Path) -> list[str]:
    """The stored PNGs (their names are their content hashes)."""
    return sorted(str(p.relative_to(run)) for p in (run / "images").rglob("*.png"))


def json_file(path: Path) -> object:
    return drop(json.loads(path.read_text()), TIMES) if path.exists() else None


def parquet(path: Path) -> object:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist() if path.exists() else None


def tensors(path: Path) -> dict:
    """safetensors file -> {name: sha256 of the raw bytes} (bit-identical weights)."""
    from safetensors.torch import load_file

    return {k: hashlib.sha256(v.contiguous().numpy().tobytes()).hexdigest() for k, v in load_file(str(path)).items()}


def leftovers(root: Path) -> list[str]:
    """Temp files a killed write left that a finished rerun did not clean up (they must not pile up)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.name.endswith(".tmp"))
