"""`understand:` in the run config: lmms-eval tasks on the base and the improved model, side by side.

    understand:
      tasks: [shapeworld_plain, shapeworld_plain_mc]   # empty (the default) = off
      limit: null

`unigap run` calls `check_understand` while it validates (before writing anything), then
`run_understand` once per source (base, improved) as resumable stages; `side_by_side(run_dir)`
gives the rows `run`/`report` print. Results live in RUN/understand/<source>/understand.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from unigap.config import Config
from unigap.errors import ConfigError

SUBDIR = "understand"


class UnderstandConfig(Config):
    tasks: list[str] = []  # lmms-eval task names (unigap's own: shapeworld_plain, shapeworld_plain_mc); [] = off
    limit: float | None = None  # items per task (>= 1) or a fraction (< 1); None = all
    per_subtask: int = Field(40, ge=1)  # ShapeWorld items per subtask
    batch_size: int | None = Field(None, ge=1)  # None = model.batch_size
    bootstrap_iters: int = Field(1000, ge=0)
    data: dict[str, str] = {}  # TASK: local copy (save_to_disk dir or parquet)


def check_understand(cfg: UnderstandConfig, where: str = "understand") -> None:
    """Before anything is written: lmms-eval importable when tasks are asked for, task names well-formed."""
    if not cfg.tasks:
        return
    from unigap.understand._lmms import require_lmms_eval

    require_lmms_eval()
    bad = [t for t in cfg.tasks if not t or "," in t or t != t.strip()]
    if bad:
        raise ConfigError(f"{where}.tasks: one lmms-eval task name per entry, got {bad}")
    unknown = [t for t in cfg.data if t not in cfg.tasks]
    if unknown:
        raise ConfigError(f"{where}.data: {unknown} not in {where}.tasks")
    absent = {t: p for t, p in cfg.data.items() if not Path(p).expanduser().exists()}
    if absent:
        raise ConfigError(
            f"{where}.data: no such file or directory: " + ", ".join(f"{t}={p}" for t, p in absent.items())
        )


def run_understand(
    cfg: UnderstandConfig, model_cfg: Any, model: Any, run_dir: str | Path, source: str, seed: int = 0
) -> dict[str, Any]:
    """evaluate_backend for one source (vocab.SOURCE_BASE / SOURCE_IMPROVED) into RUN/understand/<source>."""
    from unigap.understand.run import evaluate_backend

    limit = int(cfg.limit) if cfg.limit is not None and cfg.limit >= 1 else cfg.limit
    opts = {"per_subtask": cfg.per_subtask, "bootstrap_iters": cfg.bootstrap_iters, "batch_size": cfg.batch_size}
    return evaluate_backend(
        model_cfg,
        cfg.tasks,
        limit,
        Path(run_dir) / SUBDIR / source,
        seed=seed,
        data=cfg.data or None,
        model=model,
        options=opts,
    )


def load_results(run_dir: str | Path) -> dict[str, dict]:
    """{source: understand.json} for every source evaluated in this run."""
    root = Path(run_dir) / SUBDIR
    if not root.is_dir():
        return {}
    from unigap.files import read_json

    return {
        p.parent.name: read_json(p, f"rerun `unigap run --out {run_dir}` (stage understand_{p.parent.name})")
        for p in sorted(root.glob("*/understand.json"))
    }


def side_by_side(run_dir: str | Path, sources: tuple[str, str] = ("base", "improved")) -> list[dict[str, Any]]:
    """One row per (task, metric): value and stderr per source, and improved - base when both exist."""
    res = load_results(run_dir)
    a, b = (res.get(s, {}) for s in sources)
    rows = []
    for task in dict.fromkeys([*a.get("scores", {}), *b.get("scores", {})]):
        metrics = dict.fromkeys([*a.get("scores", {}).get(task, {}), *b.get("scores", {}).get(task, {})])
        for metric in metrics:
            va, vb = (r.get("scores", {}).get(task, {}).get(metric) for r in (a, b))
            row = {
                "task": task,
                "metric": metric,
                sources[0]: va,
                sources[1]: vb,
                "delta": None if va is None or vb is None else vb - va,
            }
            for s, r in zip(sources, (a, b)):
                row[f"{s}_stderr"] = r.get("stderr", {}).get(task, {}).get(metric)
                row[f"{s}_failed"] = r.get("failures", {}).get("by_task", {}).get(task, 0) if r else None
            rows.append(row)
    return rows
