"""`unigap understand`: understanding benchmarks (lmms-eval tasks) on a unigap backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from unigap.cli._common import out
from unigap.cli.show import Col, Fitted
from unigap.errors import UnigapError

DEFAULT_TASKS = "shapeworld_plain,shapeworld_plain_mc"


def guess_backend(model_dir: str | None) -> str:
    """tiny for a tiny card (or no path); else the config.json model_type (janus, ...); else tiny."""
    if model_dir is None:
        return "tiny"
    cfg = Path(model_dir) / "config.json"
    if cfg.is_file():
        try:
            kind = json.loads(cfg.read_text()).get("model_type", "")
        except json.JSONDecodeError:
            kind = ""
        if "janus" in str(kind) or kind == "multi_modality":  # deepseek-ai original format converts on load
            return "janus"
    return "janus" if "janus" in str(model_dir).lower() and not (Path(model_dir) / "card.json").exists() else "tiny"


def parse_data(pairs: list[str] | None) -> dict[str, str]:
    data = {}
    for pair in pairs or []:
        task, sep, path = pair.partition("=")
        if not sep or not task or not path:
            raise UnigapError(f"--data {pair!r}: expected TASK=PATH")
        data[task.strip()] = path.strip()
    return data


def parse_options(pairs: list[str] | None) -> dict[str, object]:
    """KEY=VALUE pairs, values read as YAML scalars (numbers, booleans, null)."""
    import yaml

    opts: dict[str, object] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UnigapError(f"--option {pair!r}: expected KEY=VALUE")
        opts[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return opts


def scores_table(result: dict) -> Fitted:
    """One row per task and metric: lmms-eval's value and stderr (its own units), items, failed items."""
    rows = []
    for task, metrics in result["scores"].items():
        n = (result["n"].get(task) or {}).get("effective", "")
        failed = result["failures"]["by_task"].get(task, 0)
        for metric, value in metrics.items():
            err = result["stderr"].get(task, {}).get(metric)
            rows.append([f"{task}\n{metric}", f"{value:.4f}", "" if err is None else f"{err:.4f}", str(n), str(failed)])
    cols = [Col("task\nmetric", "left", wrap=True), Col("value"), Col("stderr"), Col("n"), Col("failed")]
    title = (
        f"lmms-eval {result['provenance']['lmms_eval_version']} on {result['provenance']['backend']} "
        "(lmms-eval's units)"
    )
    return Fitted(title, cols, rows, legend=[("n", "items scored"), ("failed", "items that failed (scored wrong)")])


def understand_cmd(
    model_dir: Annotated[
        str | None,
        typer.Argument(
            help="Checkpoint dir or hub id (default: the backend's default, for tiny the shipped checkpoint)"
        ),
    ] = None,
    tasks: Annotated[
        str,
        typer.Option(
            help="Comma-separated lmms-eval tasks, e.g. pope,mmbench_en_dev,gqa,mmmu_val,"
            "seedbench; unigap's own: shapeworld_plain, shapeworld_plain_mc"
        ),
    ] = DEFAULT_TASKS,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Directory for understand.json (+ lmms-eval's results)")
    ] = Path("understand"),
    limit: Annotated[float | None, typer.Option(help="Items per task (>= 1), or a fraction (< 1)")] = None,
    backend: Annotated[str | None, typer.Option(help="Model backend (default: guessed from MODEL_DIR)")] = None,
    device: Annotated[str, typer.Option(help="torch device")] = "cpu",
    batch_size: Annotated[int, typer.Option(help="Requests per backend call")] = 8,
    seed: Annotated[int, typer.Option(help="lmms-eval's python/numpy/torch/fewshot seed; ShapeWorld item seed")] = 0,
    data: Annotated[
        list[str] | None,
        typer.Option(help="TASK=PATH: read TASK's data from a local copy (save_to_disk dir or parquet); repeatable"),
    ] = None,
    per_subtask: Annotated[int, typer.Option(help="ShapeWorld items per subtask")] = 40,
    option: Annotated[
        list[str] | None, typer.Option(help="KEY=VALUE backend option (model.options); repeatable")
    ] = None,
) -> None:
    """Run lmms-eval tasks through the `unigap` adapter; scores + provenance to OUT/understand.json."""
    from unigap.models.base import ModelConfig
    from unigap.understand.run import evaluate_backend

    names = [t.strip() for t in tasks.split(",") if t.strip()]
    if not names:
        raise UnigapError("--tasks: give at least one task")
    if limit is not None and limit >= 1:
        limit = int(limit)
    cfg = ModelConfig(
        name=backend or guess_backend(model_dir),
        path=model_dir,
        device=device,
        batch_size=batch_size,
        options=parse_options(option),
    )
    result = evaluate_backend(
        cfg, names, limit, out_dir, seed=seed, data=parse_data(data), options={"per_subtask": per_subtask}
    )
    out.print(scores_table(result))
    if result["failures"]["count"]:
        out.print(f"{result['failures']['count']} items failed (scored wrong): {result['failures']['by_task']}")
    out.print(f"wrote {Path(out_dir) / 'understand.json'}")


def register(app: typer.Typer) -> None:
    app.command("understand")(understand_cmd)
