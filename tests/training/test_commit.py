"""The checkpoint commit protocol (unigap.training.commit) on its own: every intermediate state a kill
can leave resolves to the last complete step."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

from unigap.errors import CheckpointError, UnigapError
from unigap.training.commit import CommitDir, check_same_config, rng_state, seed_all, set_rng_state


def write_step(cd: CommitDir, step: int, text: str) -> None:
    tmp = cd.begin(step)
    (tmp / "model").mkdir()
    (tmp / "model" / "w.txt").write_text(text)
    (tmp / "state.txt").write_text(text)


def test_commit_names_the_step_and_removes_the_older_one(tmp_path):
    cd = CommitDir(tmp_path)
    assert cd.latest_step() is None and cd.latest() is None
    write_step(cd, 1, "one")
    cd.commit(1)
    write_step(cd, 2, "two")
    final = cd.commit(2)
    assert cd.latest_step() == 2 and final == tmp_path / "epochs" / "000002"
    assert sorted(p.name for p in (tmp_path / "epochs").iterdir()) == ["000002"]
    cd.link("model", "model")
    assert (
        os.readlink(tmp_path / "model") == "epochs/000002/model" and (tmp_path / "model" / "w.txt").read_text() == "two"
    )


@pytest.mark.parametrize("left", ["temp dir", "renamed, not named"])
def test_what_a_kill_leaves_resolves_to_the_last_commit(tmp_path, left):
    cd = CommitDir(tmp_path)
    write_step(cd, 1, "one")
    cd.commit(1)
    write_step(cd, 2, "two")  # killed while step 2 was written ...
    if left == "renamed, not named":  # ... or after its rename, before LATEST
        os.rename(tmp_path / "epochs" / ".000002.tmp", tmp_path / "epochs" / "000002")
    assert cd.latest_step() == 1 and (cd.latest() / "state.txt").read_text() == "one"
    cd.clean()
    assert sorted(p.name for p in (tmp_path / "epochs").iterdir()) == ["000001"]
    write_step(cd, 2, "again")  # the resumed process writes step 2 again
    cd.commit(2)
    assert (cd.latest() / "state.txt").read_text() == "again"


def test_a_real_directory_where_the_link_goes_is_replaced(tmp_path):
    cd = CommitDir(tmp_path)
    write_step(cd, 1, "one")
    cd.commit(1)
    (tmp_path / "model").mkdir()  # e.g. a run dir copied with shutil.copytree (links followed)
    (tmp_path / "model" / "w.txt").write_text("copy")
    cd.link("model", "model")
    assert (tmp_path / "model").is_symlink() and (tmp_path / "model" / "w.txt").read_text() == "one"


def test_an_edited_pointer_is_refused_naming_it(tmp_path):
    cd = CommitDir(tmp_path)
    write_step(cd, 1, "one")
    cd.commit(1)
    (tmp_path / "LATEST").write_text("000007\n")
    with pytest.raises(CheckpointError, match="LATEST names epochs/000007, which is missing"):
        cd.latest()
    (tmp_path / "LATEST").write_text("garbage")
    with pytest.raises(CheckpointError, match="expected a step name"):
        cd.latest()


def test_a_step_is_committed_once_and_in_order(tmp_path):
    cd = CommitDir(tmp_path)
    with pytest.raises(UnigapError, match="without begin"):
        cd.commit(1)
    write_step(cd, 2, "two")
    cd.commit(2)
    write_step(cd, 1, "one")
    with pytest.raises(UnigapError, match="not after the committed step 2"):
        cd.commit(1)


def test_rng_states_round_trip():
    seed_all(3)
    state = rng_state()
    a = (torch.rand(3), np.random.rand(3), random.random())
    torch.rand(5), np.random.rand(5), random.random()
    set_rng_state(state)
    b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


def test_a_resume_with_another_config_is_refused_except_the_allowed_keys(tmp_path):
    old = {"lr": 0.1, "epochs": 2, "model": {"batch_size": 8, "path": "x"}}
    check_same_config(
        old, {**old, "epochs": 4, "model": {"batch_size": 16, "path": "x"}}, tmp_path, ("epochs", "model.batch_size")
    )
    with pytest.raises(UnigapError, match="these keys differ: lr"):
        check_same_config(old, {**old, "lr": 0.2}, tmp_path, ("epochs",))
