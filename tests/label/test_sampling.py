"""The labelling sample: seeded, stable across restarts and row renumbering, in a mixed order."""

from __future__ import annotations

import pytest

from tests.label.label_helpers import make_run
from unigap.errors import UnigapError
from unigap.label.sampling import default_name, judge_name, sample_candidates
from unigap.store import RunStore


def test_sample_is_seeded_and_stable_across_reopen(tmp_path):
    make_run(tmp_path / "run", n_prompts=4, per_prompt=3, sources=("base", "improved"))
    with RunStore.open(tmp_path / "run", create=False) as store:
        cands = store.candidates()
        first = [c.id for c in sample_candidates(cands, 5, seed=7)]
    with RunStore.open(tmp_path / "run", create=False) as store:
        again = [c.id for c in sample_candidates(store.candidates(), 5, seed=7)]
    assert first == again and len(set(first)) == 5
    assert [c.id for c in sample_candidates(cands, 5, seed=8)] != first
    everything = [c.id for c in sample_candidates(cands, None, seed=7)]
    assert everything[:5] == first and sorted(everything) == sorted(c.id for c in cands)
    assert everything != sorted(everything)  # shown in a mixed order, not prompt by prompt
    assert len(sample_candidates(cands, 100, seed=7)) == len(cands)


def test_sample_does_not_depend_on_row_ids_or_other_candidates(tmp_path):
    make_run(tmp_path / "a", n_prompts=4, per_prompt=3)
    make_run(tmp_path / "b", n_prompts=4, per_prompt=3, sources=("improved", "base"))  # other row ids
    keys = []
    for run in ("a", "b"):
        with RunStore.open(tmp_path / run, create=False) as store:
            base = store.candidates(source="base")
            keys.append([(c.prompt_id, c.idx) for c in sample_candidates(base, 6, seed=1)])
    assert keys[0] == keys[1]
    with RunStore.open(tmp_path / "a", create=False) as store:
        base = store.candidates(source="base")
        full = [(c.prompt_id, c.idx) for c in sample_candidates(base, None, seed=1)]
        fewer = [(c.prompt_id, c.idx) for c in sample_candidates(base[:-2], None, seed=1)]
    assert fewer == [k for k in full if k in set(fewer)]  # adding candidates never reorders the others


def test_sample_size_and_names_are_checked():
    with pytest.raises(UnigapError, match="at least 1"):
        sample_candidates([], 0, 0)
    assert judge_name("alice") == "human:alice" == judge_name("human:alice")
    for bad in ("", "a b", "<x>", "-x", "x" * 65):
        with pytest.raises(UnigapError, match="labeller name"):
            judge_name(bad)
    assert judge_name(default_name()).startswith("human:")
