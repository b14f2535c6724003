"""SIGKILL at many points of every stage; the rerun must end where an uninterrupted run ends.

Each test runs its job once uninterrupted (the reference, and the list of kill points it passes),
then kills fresh copies at the chosen points and reruns them. The outcomes are printed (and written
to $UNIGAP_FAULT_REPORT when set) as: stage, kill point, what was written just before, equal or not.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.faults import jobs
from tests.faults.harness import Outcome, choose, kill_then_finish, reference


def run_kills(job, root: Path, spread: int, chains: list[list[float]] = ()) -> list[Outcome]:
    ref = reference(job, root)
    ks = choose(ref.points, spread, job.must)
    outcomes = [kill_then_finish(job, root, ref, [k], f"k{k}") for k in ks]
    n = len(ref.points)
    for fracs in chains:  # killed again during the rerun
        kills = [max(1, int(f * n)) for f in fracs]
        outcomes.append(kill_then_finish(job, root, ref, kills, "chain" + "-".join(map(str, kills))))
    report(job.name, len(ref.points), outcomes)
    return outcomes


def report(stage: str, n_points: int, outcomes: list[Outcome]) -> None:
    lines = [f"{stage}: {len(outcomes)} kills of {n_points} points, "
             f"{sum(o.equal for o in outcomes)} equal to the uninterrupted run"]
    lines += [f"  kill {'+'.join(map(str, o.kills))} at {o.point[0]} ({o.point[1][-70:]}): "
              f"{'equal' if o.equal else 'DIFFERS ' + o.diff[:800]}" for o in outcomes]
    print("\n".join(lines))
    if os.environ.get("UNIGAP_FAULT_REPORT"):
        with open(os.environ["UNIGAP_FAULT_REPORT"], "a") as fh:
            fh.write("\n".join(lines) + "\n")


def assert_all_equal(outcomes: list[Outcome]) -> None:
    bad = [o for o in outcomes if not o.equal]
    assert not bad, "\n".join(f"kill {o.kills} at {o.point}: {o.diff[:2000]}" for o in bad)


def test_audit_killed_anywhere_resumes_to_the_same_run(tmp_path, tiny_ckpt_dir):
    assert_all_equal(run_kills(jobs.audit_job(tiny_ckpt_dir), tmp_path, spread=6, chains=[[0.3, 0.5]]))


def test_improve_killed_anywhere_resumes_to_the_same_weights(tmp_path, tiny_ckpt_dir, audited_run):
    assert_all_equal(run_kills(jobs.improve_job(tiny_ckpt_dir, audited_run), tmp_path, spread=4, chains=[[0.3, 0.4]]))
