"""Run lmms-eval tasks on a unigap backend and store the scores with their provenance.

    from unigap.understand.run import evaluate_backend
    result = evaluate_backend(ModelConfig(name="tiny"), ["shapeworld_plain"], limit=None, out_dir="runs/x/understand")

writes `out_dir/understand.json` (scores, stderr, task versions, n, failures, provenance) and
`out_dir/lmms_eval_results.json` (lmms-eval's own results dict, samples left out), and returns
the `understand.json` content. `out_dir/responses.jsonl` journals the finished backend batches, so a
killed evaluation, rerun, replays them and computes only the rest (understand/journal.py).
"""

from __future__ import annotations

import difflib
import json
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from unigap.errors import UnigapError
from unigap.files import write_json, write_text
from unigap.understand._lmms import lmms_eval_version, require_lmms_eval

PAPER_TASKS = ("pope", "mmbench_en_dev", "gqa", "mmmu_val")  # the paper's Table 8 (Janus-Pro-7B before/after SFT)
RESULT_FILE = "understand.json"
JOURNAL_FILE = "responses.jsonl"  # finished backend batches (understand/journal.py): a rerun replays them
LOCAL_HINT = (
    "To use a local copy instead: (1) a machine with the hub runs the same task once (HF_HOME=/some/dir "
    "unigap understand ... --limit 1), copy /some/dir here and set HF_HOME=/some/dir HF_DATASETS_OFFLINE=1 "
    "HF_HUB_OFFLINE=1; or (2) `--data TASK=PATH`, PATH a `datasets.save_to_disk` directory or a parquet file "
    "of the task's test split (unigap writes a task YAML that includes the original one and reads PATH)."
)


class DataUnavailable(UnigapError):
    """A task's data could not be loaded (no hub access, missing files)."""


# --- task index ---------------------------------------------------------------------------------
def quiet_lmms_logs(level: str = "WARNING") -> None:
    """lmms-eval logs through loguru at DEBUG by default (one line per unindexable YAML); keep
    warnings and errors, on stderr ($UNIGAP_LMMS_LOG overrides the level)."""
    import os
    import sys

    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level=os.environ.get("UNIGAP_LMMS_LOG", level))


def task_manager(include: Sequence[str | Path], include_defaults: bool = True) -> Any:
    from lmms_eval.tasks import TaskManager

    quiet_lmms_logs()
    return TaskManager("WARNING", include_path=[str(p) for p in include] or None, include_defaults=include_defaults)


def check_task_names(tasks: Sequence[str], tm: Any) -> None:
    """lmms-eval's "Tasks not found" message, with the closest names of its task index."""
    found = set(tm.match_tasks(list(tasks)))
    missing = [t for t in tasks if t not in found and "*" not in t]
    if not missing:
        return
    lines = [f"Tasks not found: {', '.join(missing)}."]
    for name in missing:
        close = difflib.get_close_matches(name, tm.all_tasks, n=5, cutoff=0.6)
        lines.append(f"  {name}: close matches {', '.join(close)}" if close else f"  {name}: no close match")
    lines.append("List them with `lmms-eval --tasks list` (unigap's own: shapeworld_plain, shapeworld_plain_mc).")
    raise UnigapError("\n".join(lines))


def local_data_yamls(data: dict[str, str], tm: Any, out: Path) -> Path:
    """One task YAML per `--data TASK=PATH`: the original task's YAML included, reading PATH."""
    import yaml

    out.mkdir(parents=True, exist_ok=True)
    for task, path in data.items():
        entry = tm.task_index.get(task)
        if not entry or entry.get("type") != "task":
            raise UnigapError(f"--data {task}={path}: {task!r} is not an lmms-eval task (groups are not supported)")
        p = Path(path).expanduser().resolve()
        if not p.exists():
            raise UnigapError(f"--data {task}={path}: no such file or directory")
        override: dict[str, Any] = {"include": entry["yaml_path"], "task": task, "dataset_name": None}
        if p.is_dir():
            override |= {"dataset_path": str(p), "dataset_kwargs": {"load_from_disk": True}}
        else:
            split = _test_split(entry["yaml_path"])
            override |= {"dataset_path": "parquet", "dataset_kwargs": {"data_files": {split: str(p)}}}
        write_text(out / f"{task}.yaml", yaml.safe_dump(override, sort_keys=False))
    return out


def _test_split(yaml_path: str) -> str:
    from lmms_eval import utils

    return utils.load_yaml_config(yaml_path, mode="simple").get("test_split") or "test"


def _default_tasks_dir() -> Path:
    import lmms_eval.tasks

    return Path(lmms_eval.tasks.__file__).parent


def build_task_manager(
    tasks: Sequence[str],
    out_dir: Path,
    data: dict[str, str] | None,
    per_subtask: int,
    seed: int,
    include_defaults: bool,
    include: Sequence[str | Path] = (),
) -> Any:
    """TaskManager over the ShapeWorld tasks (built when asked for), `include` and lmms-eval's tasks;
    `--data` overrides first (lmms-eval keeps the first YAML it indexes under a name)."""
    from unigap.understand.shapeworld import prepare_tasks

    paths: list[str | Path] = list(include)
    if any(t.startswith("shapeworld") for t in tasks):
        paths.append(prepare_tasks(out_dir / "tasks", per_subtask, seed))
        # only unigap's own tasks: skip indexing lmms-eval's ~2,000 task YAMLs (a minute on 2 cores)
        include_defaults = include_defaults and not (all(t.startswith("shapeworld") for t in tasks) and not data)
    tm = task_manager(paths, include_defaults)
    if not data:
        return tm
    local = local_data_yamls(data, tm, out_dir / "tasks_local")
    defaults = [_default_tasks_dir()] if include_defaults else []
    return task_manager([local, *defaults, *paths], include_defaults=False)


# --- running --------------------------------------------------------------------------------------
def evaluate_backend(
    model_cfg: Any,
    tasks: Sequence[str],
    limit: int | float | None,
    out_dir: str | Path,
    seed: int = 0,
    data: dict[str, str] | None = None,
    model: Any = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run `tasks` through lmms-eval's simple_evaluate on the backend `model_cfg` names (or `model`,
    already loaded); write and return scores with provenance.

    options: per_subtask (ShapeWorld items per subtask, 40), bootstrap_iters (1000),
    include_defaults (index lmms-eval's own tasks, True), include (more task dirs), batch_size.
    """
    require_lmms_eval()
    opt = {"per_subtask": 40, "bootstrap_iters": 1000, "include_defaults": True, "include": (), "batch_size": None} | (
        options or {}
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tasks = list(tasks)
    tm = build_task_manager(tasks, out, data, opt["per_subtask"], seed, opt["include_defaults"], opt["include"])
    check_task_names(tasks, tm)
    lm = make_adapter(model_cfg, model, opt["batch_size"], out / JOURNAL_FILE)
    t0 = time.perf_counter()
    raw = _simple_evaluate(lm, tasks, limit, tm, seed, opt["bootstrap_iters"])
    if lm.journal is not None and lm.journal.replayed:
        print(f"understand: {lm.journal.replayed} finished batches replayed from {lm.journal.path}", file=sys.stderr)
    result = summarise(raw, lm, model_cfg, tasks, limit, seed, opt) | {"wall_s": round(time.perf_counter() - t0, 2)}
    raw.pop("samples", None)
    write_json(out / "lmms_eval_results.json", raw, default=str)
    write_json(out / RESULT_FILE, result, default=str)  # last: understand.json means the evaluation finished
    return result


def make_adapter(model_cfg: Any, model: Any, batch_size: int | None, journal: Path | None = None) -> Any:
    """The lmms-eval model over this backend; with `journal`, finished batches are recorded there under
    the model's identity and replayed by a rerun of the same model."""
    from unigap.understand.adapter import UnigapLMM
    from unigap.understand.journal import Journal

    if model is None:
        from unigap.models.base import load_model

        model = load_model(model_cfg)
    log = Journal(journal, model_identity(model_cfg, model)) if journal is not None else None
    return UnigapLMM(model=model, batch_size=batch_size or getattr(model_cfg, "batch_size", 8), journal=log)


def model_identity(model_cfg: Any, model: Any) -> str:
    """What the journal's batches were answered by: the backend's fingerprint and weights hash, the model
    config, and the size and mtime of each file of a local checkpoint (new weights at the same path)."""
    fingerprint = model.fingerprint() if callable(getattr(model, "fingerprint", None)) else None
    weights = model.weights_sha256() if callable(getattr(model, "weights_sha256", None)) else None
    cfg = model_cfg.model_dump(mode="json") if hasattr(model_cfg, "model_dump") else model_cfg
    path = (cfg or {}).get("path") if isinstance(cfg, dict) else None
    return json.dumps([fingerprint, weights, cfg, _file_stats(path)], sort_keys=True, default=str)


def _file_stats(path: str | None) -> dict[str, list[int]]:
    """{relative name: [size, mtime_ns]} of a local checkpoint directory's files ({} for a hub id or none)."""
    root = Path(path).expanduser().resolve() if path else None
    if root is None or not root.is_dir():
        return {}
    stats = {}
    for f in sorted(root.rglob("*")):
        if f.is_file():
            st = f.stat()
            stats[str(f.relative_to(root))] = [st.st_size, st.st_mtime_ns]
    return stats


def _simple_evaluate(lm: Any, tasks: list[str], limit: Any, tm: Any, seed: int, bootstrap_iters: int) -> dict:
    from lmms_eval import evaluator

    try:
        raw = evaluator.simple_evaluate(
            model=lm,
            tasks=tasks,
            limit=limit,
            task_manager=tm,
            random_seed=seed,
            numpy_random_seed=seed,
            torch_random_seed=seed,
            fewshot_random_seed=seed,
            log_samples=False,
            bootstrap_iters=bootstrap_iters,
            verbosity="WARNING",
        )
    except NotImplementedError as err:
        raise UnigapError(str(err)) from err
    except Exception as err:
        cause = raised_in_data_loading(err)
        if cause is not None:
            raise DataUnavailable(data_message(cause, tasks, tm)) from err
        raise
    if raw is None:
        raise UnigapError("lmms-eval returned no results (a non-zero rank of a distributed run?)")
    return raw


def _chain(err: BaseException | None) -> list[BaseException]:
    """err, its causes and contexts, and for tenacity's RetryError (lmms-eval retries Task.download
    five times) the last attempt's exception."""
    seen: list[BaseException] = []
    while err is not None and err not in seen:
        seen.append(err)
        last = getattr(err, "last_attempt", None)
        inner = last.exception() if last is not None and hasattr(last, "exception") else None
        err = inner or err.__cause__ or err.__context__
    return seen


def raised_in_data_loading(err: BaseException) -> BaseException | None:
    """The exception that came out of lmms-eval's Task.download (datasets.load_dataset & co), if any."""
    for e in _chain(err):
        for frame in traceback.extract_tb(e.__traceback__):
            if frame.filename.replace("\\", "/").endswith("lmms_eval/api/task.py") and frame.name == "download":
                return e
    return None


def data_message(err: BaseException, tasks: Sequence[str], tm: Any) -> str:
    sources = []
    for t in tasks:
        entry = tm.task_index.get(t, {})
        if entry.get("type") == "task":
            from lmms_eval import utils

            cfg = utils.load_yaml_config(entry["yaml_path"], mode="simple")
            sources.append(
                f"{t}: {cfg.get('dataset_path')}" + (f" ({cfg['dataset_name']})" if cfg.get("dataset_name") else "")
            )
    return (
        f"task data could not be loaded: {type(err).__name__}: {err}\n"
        f"datasets: {'; '.join(sources) or '?'}\n{LOCAL_HINT}"
    )


# --- result -------------------------------------------------------------------------------------
def scores_of(raw: dict) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """{task: {metric: value}} and {task: {metric: stderr}} from lmms-eval's "metric,filter" keys."""
    scores: dict[str, dict[str, float]] = {}
    stderr: dict[str, dict[str, float]] = {}
    for task, row in raw.get("results", {}).items():
        for key, value in row.items():
            if "," not in key or not isinstance(value, (int, float)):
                continue
            metric, flt = key.split(",", 1)
            name = metric if flt == "none" else f"{metric}/{flt}"
            if "_stderr" in metric:  # "acc_stderr" (lmms-eval's stderr), "acc_stderr_clt" (its CLT one)
                stderr.setdefault(task, {})[name.replace("_stderr", "", 1)] = float(value)
            else:
                scores.setdefault(task, {})[name] = float(value)
    return scores, stderr


def summarise(raw: dict, lm: Any, model_cfg: Any, tasks: list[str], limit: Any, seed: int, opt: dict) -> dict:
    from unigap.understand.adapter import failure_counts

    scores, stderr = scores_of(raw)
    configs = raw.get("configs", {})
    return {
        "tasks": tasks,
        "scores": scores,
        "stderr": stderr,
        "n": {t: raw.get("n-samples", {}).get(t) for t in scores},
        "task_versions": {t: raw.get("versions", {}).get(t) for t in scores},
        "datasets": {
            t: {"path": c.get("dataset_path"), "name": c.get("dataset_name"), "split": c.get("test_split")}
            for t, c in configs.items()
        },
        "failures": {
            "count": sum(failure_counts(lm.failures).values()),
            "by_task": failure_counts(lm.failures),
            "requests": len(lm.failures),
            "items": lm.failures[:200],
        },
        "backend_calls": dict(lm.calls),  # batches replayed from the journal count the calls they took when run
        "provenance": provenance(lm, model_cfg, limit, seed, opt),
    }


def provenance(lm: Any, model_cfg: Any, limit: Any, seed: int, opt: dict) -> dict:
    from unigap.store.provenance import git_info, package_versions

    model = lm.model
    fingerprint = model.fingerprint() if callable(getattr(model, "fingerprint", None)) else None
    weights = model.weights_sha256() if callable(getattr(model, "weights_sha256", None)) else None
    cfg = model_cfg.model_dump() if hasattr(model_cfg, "model_dump") else model_cfg
    return {
        "lmms_eval_version": lmms_eval_version(),
        "backend": lm.backend,
        "model": cfg,
        "fingerprint": fingerprint,
        "weights_sha256": weights,
        "limit": limit,
        "seed": seed,
        "batch_size": lm.batch_size,
        "bootstrap_iters": opt["bootstrap_iters"],
        "shapeworld_per_subtask": opt["per_subtask"],
        "git": git_info(),
        "packages": package_versions(("unigap", "lmms_eval", "torch", "transformers", "datasets", "evaluate")),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
