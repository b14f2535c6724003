"""`unigap judge RUN --judge NAME [--source base|improved] [key=value ...]`: add a judge's verdicts
(and a scorer's scores) to an existing run.

Resumable: only candidates this judge has not judged yet are judged (rerunning does nothing once
done; `--retry-failed` judges the failed ones again), `--chunk-size` candidates per judge call, one
transaction per chunk, a progress bar. The stored judge column is the judge's `name` (e.g.
"geneval"); `unigap analyse` / `report` read every stored judge. Options are the judge's own
(validated against its options model, e.g. `device=cuda batch_size=8 detector=/models/m2f`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from unigap.cli._common import out, renamed_option, stage_progress
from unigap.errors import UnigapError


def parse_options(items: list[str]) -> dict[str, Any]:
    """["device=cuda", "thresholds.blip=0.4"] -> {"device": "cuda", "thresholds": {"blip": 0.4}} (YAML values)."""
    from unigap.config import apply_overrides

    return apply_overrides({}, items)


def judge_run(
    run_dir: str | Path,
    name: str,
    options: dict[str, Any],
    source: str | None = None,
    chunk_size: int = 16,
    bar: Any = None,
    retry_failed: bool = False,
) -> dict:
    """Judge the run's unjudged candidates with judge `name`; returns {"judge", "judged", "failed", "scores"}."""
    from unigap.audit.runner import NoBar, external_fn, judge_stage
    from unigap.judges.base import JudgeConfig, load_judge
    from unigap.store import RunStore

    if chunk_size < 1:
        raise UnigapError("--chunk-size must be >= 1")
    judge = load_judge(JudgeConfig(name=name, options=options), where="--judge")
    with RunStore.open(run_dir, create=False) as store:
        plan = _plan(store, judge, source, retry_failed)  # a routing judge (benchmark): one column per scorer
        todo = [c for _, cands in plan for c in cands]
        _check_prompts(judge, store, todo)
        failures, rows = 0, []
        for r, cands in plan:
            if retry_failed:
                failures += _rejudge(store, r.judge, cands, chunk_size, bar or NoBar(), r.column)
            else:
                failures += judge_stage(
                    store, r.column, external_fn(r.judge), source, chunk_size, bar or NoBar(), {p.id for p in r.prompts}
                )
            rows += store.judgments(r.column, source)
        store.log("judge", f"judged {len(todo)} candidates with {judge.name}", {"failed": failures, "source": source})
    return {"judge": judge.name, "judged": len(todo), "failed": failures, "scores": _mean_scores(rows)}


def _plan(store: Any, judge: Any, source: str | None, retry_failed: bool) -> list[tuple[Any, list]]:
    """[(route, its candidates to judge)]: the stored prompts that have candidates, routed by the judge."""
    from unigap.judges.base import routes

    wanted = {c.prompt_id for c in store.candidates(source=source)}
    plan = []
    for r in routes(judge, [p for p in store.prompts() if p.id in wanted]):
        ids = {p.id for p in r.prompts}
        plan.append(
            (r, [c for c in store.missing_judgments(r.column, source, retry_failed=retry_failed) if c.prompt_id in ids])
        )
    return plan


def _check_prompts(judge: Any, store: Any, todo: list) -> None:
    """A judge that validates prompts (e.g. GenEval metadata lines) fails before anything is written."""
    check = getattr(judge, "check_prompts", None)
    if check is not None and todo:
        wanted = {c.prompt_id for c in todo}
        check([p for p in store.prompts() if p.id in wanted])


def _rejudge(store: Any, judge: Any, todo: list, chunk_size: int, bar: Any, column: str) -> int:
    """--retry-failed: judge `todo` (unjudged + failed) again, replacing the failed rows of `column`."""
    import numpy as np
    import torch

    from unigap.records import Judgment

    prompts = {p.id: p for p in store.prompts()}
    bar.start(f"judge [{column}] (retry failed)", len(todo))
    failures = 0
    for s in range(0, len(todo), chunk_size):
        chunk = todo[s : s + chunk_size]
        images = torch.from_numpy(np.stack([store.load_image(c.png) for c in chunk]))
        try:
            verdicts = judge.judge(images, [prompts[c.prompt_id] for c in chunk])
        except Exception as err:  # noqa: BLE001 - recorded per item, the run goes on
            verdicts = [Judgment(None, None, "", "failed", f"{type(err).__name__}: {err}") for _ in chunk]
        failures += sum(v.status == "failed" for v in verdicts)
        store.add_judgments(column, [(c.id, v) for c, v in zip(chunk, verdicts)], replace=True)
        bar.advance(len(chunk))
    return failures


def _mean_scores(rows: list) -> dict[str, dict]:
    """{subtask: {"mean": mean score, "n": scored, "failed": n}} over the stored rows."""
    out: dict[str, dict] = {}
    for r in rows:
        cell = out.setdefault(r.subtask, {"sum": 0.0, "n": 0, "failed": 0})
        score = getattr(r, "score", None)
        if r.status == "failed":
            cell["failed"] += 1
        elif score is not None:
            cell["sum"] += float(score)
            cell["n"] += 1
    return {
        s: {"mean": c["sum"] / c["n"] if c["n"] else None, "n": c["n"], "failed": c["failed"]} for s, c in out.items()
    }


CHUNK = 16
JUDGE_HELP = (
    "Judge name: benchmark (each prompt by its benchmark's scorer), geneval, t2i-compbench, sciscore, "
    "qwen2.5-vl, http, oracle, ..."
)


def judge_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (from `unigap run` or `unigap audit`)")],
    judge: Annotated[str, typer.Option("--judge", help=JUDGE_HELP)],
    options: Annotated[
        list[str] | None, typer.Argument(help="Judge options as key=value, e.g. device=cuda batch_size=8")
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Only candidates of this source (base or improved); default all")
    ] = None,
    chunk_size: Annotated[int, typer.Option(help="Candidates per judge call (and per transaction)")] = CHUNK,
    retry_failed: Annotated[bool, typer.Option(help="Judge again the candidates this judge failed on")] = False,
    batch_size: Annotated[int | None, typer.Option(hidden=True, help="Old name of --chunk-size")] = None,
) -> None:
    """Add a judge's verdicts (and a scorer's scores) to an existing run; rerun to resume."""

    chunk_size = renamed_option("--batch-size", "--chunk-size", batch_size, chunk_size, CHUNK)
    opts = parse_options(options or [])
    with stage_progress() as bar:
        result = judge_run(run_dir, judge, opts, source, chunk_size, bar, retry_failed)
    out.print(f"{result['judge']}: judged {result['judged']} candidates, {result['failed']} failed")
    for subtask, s in result["scores"].items():
        if s["mean"] is not None:
            out.print(f"  {subtask}: mean score {s['mean']:.4f} over {s['n']} ({s['failed']} failed)")


def register(app: typer.Typer) -> None:
    app.command("judge")(judge_cmd)
