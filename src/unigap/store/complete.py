"""Complete before consumed: whether a run's stages finished, and what is missing when they did not.

`unigap audit` records its stage as running (with what it will produce) before any work and done at
the end; `unigap run` records each of its stages. A consumer (`curate`, `analyse`, `report`) asks
`audit_gaps` / `run_gaps` and refuses an unfinished run with what is missing and the command that
finishes it, unless the user passes --allow-partial.
"""

from __future__ import annotations

from pathlib import Path

from unigap.errors import UnigapError
from unigap.store.runstore import RunStore

AUDIT_STAGES = ("audit", "audit_train")  # the stages that make a run's train candidates and verdicts


def finish_command(store: RunStore, run_dir: Path, kind: str = "audit") -> str:
    """The command that finishes the run: the one stored by the command that wrote it, else a template."""
    return store.get_meta("command") or f"unigap {kind} --out {run_dir} (with the config it was started with)"


def audit_progress(store: RunStore, source: str, info: dict) -> str:
    """ "64 of 108 candidates; verdicts: self 40 of 64, oracle 0 of 64" for `source`."""
    counts = store.counts()
    have = counts["candidates"].get(source, 0)
    lost = counts.get("failed_candidates", {}).get(source, 0)
    want = info.get("candidates")
    parts = [f"{have} of {want} candidates" if want else f"{have} candidates"]
    if lost:
        parts[0] += f" ({lost} could not be generated)"
    by_judge: dict[str, int] = {}
    for r in store.judgments(source=source):
        if r.status != "failed":
            by_judge[r.judge] = by_judge.get(r.judge, 0) + 1
    judges = info.get("judges") or sorted(by_judge)
    if judges:
        parts.append("verdicts: " + ", ".join(f"{j} {by_judge.get(j, 0)} of {have}" for j in judges))
    return "; ".join(parts)


def audit_gaps(store: RunStore, source: str) -> str | None:
    """None when the audit that made `source`'s candidates finished, else what is missing."""
    stages = {s["name"]: s for s in store.stages() if s["name"] in AUDIT_STAGES}
    if not stages:
        return f"no finished audit ({audit_progress(store, source, {})})"
    bad = {n: s for n, s in stages.items() if s["status"] != "done"}
    if not bad:
        return None
    name, st = next(iter(bad.items()))
    why = st["info"].get("dead_judges")
    dead = f"; every verdict of {', '.join(why)} failed" if why else ""
    return f"stage {name!r} is {st['status']} ({audit_progress(store, source, st['info'] or {})}{dead})"


def require_finished_audit(
    store: RunStore, run_dir: Path, source: str, allow_partial: bool, consumer: str
) -> str | None:
    """UnigapError if the audit of `run_dir` did not finish (unless allow_partial); returns the gap or None."""
    gap = audit_gaps(store, source)
    if gap and not allow_partial:
        kind = "run" if "audit_train" in {s["name"] for s in store.stages()} else "audit"
        raise UnigapError(
            f"{run_dir}: the audit did not finish: {gap}. Finish it first by rerunning "
            f"`{finish_command(store, run_dir, kind)}` (it continues where it stopped), or pass "
            f"--allow-partial to {consumer} only what is there"
        )
    return gap


def run_gaps(store: RunStore, run_dir: Path) -> list[str]:
    """What an unfinished run lacks: stages not done, and for a `unigap run` dir its results.json."""
    gaps = [
        f"stage {s['name']!r} is {s['status']}"
        for s in store.stages()
        if s["status"] != "done" and s["name"] != "guard"
    ]  # guard: "failed" is its verdict on the data, not an unfinished stage
    config = store.config() or {}
    if "train_prompts" in config and not (run_dir / "results.json").exists() and not gaps:
        gaps.append("results.json was not written (the run stopped before its last stage)")
    if not store.stages():
        gaps.append("no stage was recorded (the run was stopped before any stage finished)")
    return gaps


def require_finished_run(store: RunStore, run_dir: Path, allow_partial: bool, consumer: str) -> list[str]:
    gaps = run_gaps(store, run_dir)
    if gaps and not allow_partial:
        kind = "run" if "train_prompts" in (store.config() or {}) else "audit"
        raise UnigapError(
            f"{run_dir}: the run did not finish: {'; '.join(gaps)}. Finish it first by rerunning "
            f"`{finish_command(store, run_dir, kind)}` (it continues where it stopped), or pass "
            f"--allow-partial to {consumer} what is there"
        )
    return gaps
