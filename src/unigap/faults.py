"""Fault points: named moments between two writes where the crash-consistency tests kill a process.

`point(name)` marks a place where a kill must leave a resumable state: after a database commit,
between the files of one checkpoint, after each training step. Outside the tests it does nothing
(one environment lookup). The fault-injection harness (tests/faults) sets

  UNIGAP_FAULT_KILL=K        SIGKILL this process at the K-th point it reaches (1-based), or
  UNIGAP_FAULT_KILL=GLOB:K   at the K-th point whose name matches GLOB (fnmatch), e.g. "improve.*:3";
  UNIGAP_FAULT_LOG=PATH      append "name<TAB>detail" per point reached (the harness's list of kill points).
"""

from __future__ import annotations

import fnmatch
import os
import signal

KILL_ENV, LOG_ENV = "UNIGAP_FAULT_KILL", "UNIGAP_FAULT_LOG"
_seen: dict[str, int] = {}  # per spec: points counted so far in this process


def _parse(spec: str) -> tuple[str, int]:
    pattern, _, k = spec.rpartition(":")
    return (pattern or "*"), int(k)


def point(name: str, detail: str = "") -> None:
    """A kill point called `name` (detail: what was just written, for the log only)."""
    spec, log = os.environ.get(KILL_ENV), os.environ.get(LOG_ENV)
    if not spec and not log:
        return
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"{name}\t{detail}\n")
    if spec:
        pattern, k = _parse(spec)
        if fnmatch.fnmatchcase(name, pattern):
            _seen[spec] = _seen.get(spec, 0) + 1
            if _seen[spec] == k:
                os.kill(os.getpid(), signal.SIGKILL)
