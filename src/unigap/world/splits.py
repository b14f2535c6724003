"""Fixed train/eval prompt splits per subtask, deterministic from a seed."""

from __future__ import annotations

import copy
from functools import cache

import numpy as np

from unigap.errors import UnigapError
from unigap.world.constants import SUBTASKS, check_subtask
from unigap.world.specs import Spec, prompt_text, sample_spec

N_EVAL, N_TRAIN = 100, 350
_MAX_DRAWS = 50_000  # every grammar has >= 450 texts; collecting them takes a few thousand draws


@cache
def _split_specs(subtask: str, seed: int) -> tuple[tuple[Spec, ...], tuple[Spec, ...]]:
    """(eval, train): the first N_EVAL + N_TRAIN distinct prompts drawn, shuffled, cut."""
    rng = np.random.default_rng([seed, list(SUBTASKS).index(subtask)])
    seen: dict[str, Spec] = {}
    for _ in range(_MAX_DRAWS):
        spec = sample_spec(subtask, rng)
        seen.setdefault(prompt_text(spec), spec)
        if len(seen) == N_EVAL + N_TRAIN:
            break
    else:
        raise UnigapError(f"{subtask}: only {len(seen)} distinct prompts, need {N_EVAL + N_TRAIN}")
    specs = list(seen.values())
    specs = [specs[k] for k in rng.permutation(len(specs))]
    return tuple(specs[:N_EVAL]), tuple(specs[N_EVAL:])


def splits(subtask: str, seed: int = 0) -> dict[str, list[Spec]]:
    """{"train": [spec...], "eval": [spec...]}, disjoint by text; fresh copies (the cache stays intact)."""
    ev, tr = _split_specs(check_subtask(subtask), seed)
    return {"train": copy.deepcopy(list(tr)), "eval": copy.deepcopy(list(ev))}


@cache
def eval_texts(seed: int = 0) -> frozenset[str]:
    """Every eval prompt text (pretraining never draws these)."""
    return frozenset(prompt_text(s) for name in SUBTASKS for s in _split_specs(name, seed)[0])
