"""A deterministic random sample of a run's candidates, stable across restarts.

Each candidate gets a key from sha256(seed, source, prompt_id, idx); the sample is the K candidates
with the smallest keys, in key order. Keys depend on what a candidate is, not on its row id, so the
sample survives merges of scale-out parts (which renumber rows), and adding candidates to a run
never reorders the ones already sampled. The key order is also the order items are shown in, which
mixes prompts and subtasks so a labeller does not see one prompt's candidates back to back.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from unigap.errors import UnigapError
from unigap.label import HUMAN_PREFIX
from unigap.store import Candidate

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")


def sample_key(seed: int, c: Candidate) -> bytes:
    """The sort key of a candidate in the sample of `seed`."""
    return hashlib.sha256(f"{int(seed)}|{c.source}|{c.prompt_id}|{c.idx}".encode()).digest()


def sample_candidates(candidates: Sequence[Candidate], k: int | None, seed: int) -> list[Candidate]:
    """The `k` candidates (all if k is None) with the smallest keys, in key order."""
    if k is not None and k < 1:
        raise UnigapError(f"--sample must be at least 1, got {k}")
    ordered = sorted(candidates, key=lambda c: sample_key(seed, c))
    return ordered if k is None else ordered[:k]


def judge_name(name: str) -> str:
    """The judge under which `name`'s labels are stored ("human:<name>"); refuses odd names."""
    name = name.removeprefix(HUMAN_PREFIX)
    if not _NAME.fullmatch(name):
        raise UnigapError(
            f"labeller name {name!r}: use 1-64 letters, digits or _ . @ - (starting with a letter or digit)"
        )
    return HUMAN_PREFIX + name


def default_name() -> str:
    """The login name (labels are stored as human:<login>), or "anonymous" if there is none."""
    import getpass

    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        return "anonymous"
    return login if _NAME.fullmatch(login or "") else "anonymous"
