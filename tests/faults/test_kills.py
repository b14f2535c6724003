"""SIGKILL at many points of every stage; the rerun must end where an uninterrupted run ends.

Each test runs its job once uninterrupted (the reference, and the list of kill points it passes),
then kills fresh copies at the chosen points (and once twice in a row), reruns them, and compares
everything the stage produces with the reference: bit-identical weights, equal rows, JSON and parquet
(wall times left out). A few kills are of a real `python -m unigap` process after a seeded random delay.
The outcomes are printed and appended to $UNIGAP_FAULT_REPORT when it is set.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.faults import jobs
from tests.faults.harness import Outcome, choose, kill_then_finish, reference, subprocess_kill_after


def run_kills(
    job, root: Path, spread: int, chains: tuple[tuple, ...] = (), delays: int = 0, seed: int = 0
) -> list[Outcome]:
    ref = reference(job, root)
    n = len(ref.points)
    outcomes = [kill_then_finish(job, root, ref, [k], f"k{k}") for k in choose(ref.points, spread, job.must)]
    for first, *again in chains:  # killed at a share of the run, then again in the reruns (their k-th point)
        kills = [max(1, int(first * n)), *again]
        outcomes.append(kill_then_finish(job, root, ref, kills, "chain" + "-".join(map(str, kills))))
    rng = random.Random(f"{job.name}:{seed}")
    for i in range(delays):  # a seeded random moment of the run (counted from its first write)
        outcomes.append(subprocess_kill_after(job, root, ref, rng.uniform(0.1, 0.8) * ref.seconds, f"delay{i}"))
    report(job.name, n, outcomes)
    return outcomes


def report(stage: str, n_points: int, outcomes: list[Outcome]) -> None:
    lines = [
        f"{stage}: {len(outcomes)} kills ({n_points} kill points in an uninterrupted run), "
        f"{sum(o.equal for o in outcomes)} equal to the uninterrupted run"
    ]
    lines += [
        f"  kill {'+'.join(map(str, o.kills)) or 'after'} at {o.point[0]} ({o.point[1][-60:]}): "
        f"{'equal' if o.equal else 'DIFFERS ' + o.diff[:800]}"
        for o in outcomes
    ]
    print("\n".join(lines))
    if os.environ.get("UNIGAP_FAULT_REPORT"):
        with open(os.environ["UNIGAP_FAULT_REPORT"], "a") as fh:
            fh.write("\n".join(lines) + "\n")


def assert_all_equal(outcomes: list[Outcome]) -> None:
    bad = [o for o in outcomes if not o.equal]
    assert not bad, "\n".join(f"kill {o.kills} at {o.point}: {o.diff[:2000]}" for o in bad)


def test_audit(tmp_path, tiny_ckpt_dir):
    assert_all_equal(run_kills(jobs.audit_job(tiny_ckpt_dir), tmp_path, spread=2, chains=((0.3, 12, 5),), delays=1))


def test_curate(tmp_path, audited_run):
    assert_all_equal(run_kills(jobs.curate_job(audited_run), tmp_path, spread=1))


def test_improve_sft_with_curriculum_replay(tmp_path, tiny_ckpt_dir, audited_run):
    assert_all_equal(
        run_kills(jobs.improve_job(tiny_ckpt_dir, audited_run), tmp_path, spread=2, chains=((0.3, 15, 8),), delays=1)
    )


def test_improve_grpo(tmp_path, tiny_ckpt_dir, audited_run):
    assert_all_equal(
        run_kills(jobs.improve_grpo_job(tiny_ckpt_dir, audited_run), tmp_path, spread=1, chains=((0.3, 6),))
    )


@pytest.mark.slow
def test_improve_dpo_shipped_model(tmp_path, shipped_audited_run):
    assert_all_equal(run_kills(jobs.improve_job(None, shipped_audited_run, method="dpo"), tmp_path, spread=1))


def test_pretrain(tmp_path):
    assert_all_equal(run_kills(jobs.pretrain_job(), tmp_path, spread=2))


@pytest.mark.slow
def test_run_whole_loop(tmp_path, tiny_ckpt_dir):
    assert_all_equal(run_kills(jobs.run_job(tiny_ckpt_dir), tmp_path, spread=1, chains=((0.2, 20, 20, 20),)))


def test_analyse_and_report(tmp_path, finished_run):
    assert_all_equal(
        run_kills(jobs.analyse_job(finished_run), tmp_path, spread=1, delays=1)
        + run_kills(jobs.report_job(finished_run), tmp_path, spread=1)
    )


@pytest.mark.slow
def test_understand(tmp_path, tiny_ckpt_dir):
    pytest.importorskip("lmms_eval")
    assert_all_equal(run_kills(jobs.understand_job(tiny_ckpt_dir), tmp_path, spread=1))


def test_every_kill_of_the_table_is_a_point_the_jobs_pass():
    """A table row whose glob matches no fault point would test nothing: every row names a point that
    exists in the code (checked against the names unigap.faults.point is called with)."""
    import re

    from tests.faults.table import KILLS

    src = Path(__file__).resolve().parents[2] / "src" / "unigap"
    names = {m for p in src.rglob("*.py") for m in re.findall(r'point\("([\w.]+)"', p.read_text())}
    assert {k.at.split(" ")[0] for k in KILLS} <= names | {"file", "db"}
