"""Export a run as a HF `datasets` dataset (save_to_disk): one row per candidate, a verdict column per judge."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from unigap.errors import DataError, UnigapError
from unigap.export.common import ExportResult, open_store
from unigap.files import write_dir_atomic


def export_hf(run_dir: str | Path, out: str | Path, source: str | None = None, overwrite: bool = False) -> ExportResult:
    """A `datasets` dataset (save_to_disk) with one row per candidate and one verdict column per judge."""
    from datasets import Dataset

    out, run_dir = Path(out), Path(run_dir)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise UnigapError(f"{out}: not empty; choose an empty --out or pass --overwrite")
    with open_store(run_dir) as store, tempfile.TemporaryDirectory() as cache:
        judges, verdicts = _verdicts(store, source)
        rows = list(_hf_rows(store, source, judges, verdicts))
        if not rows:
            raise UnigapError(f"{run_dir}: no candidates{'' if source is None else f' of source {source!r}'} to export")
        ds = Dataset.from_generator(_gen, gen_kwargs={"rows": rows}, features=_hf_features(judges), cache_dir=cache)
        write_dir_atomic(out, lambda tmp: ds.save_to_disk(str(tmp)))
    return ExportResult(
        out,
        prompts=len({r["prompt_id"] for r in rows}),
        images=len(rows),
        folders=[out],
        notes=[f"verdict columns: {', '.join(judges.values()) or 'none'}"],
    )


def _gen(rows: list[dict]) -> Iterator[dict]:
    """Rows with the image bytes read one at a time (the rows list holds file paths only)."""
    for row in rows:
        out = {k: v for k, v in row.items() if k != "png_file"}
        out["image"] = {"bytes": Path(row["png_file"]).read_bytes(), "path": None}
        yield out


def verdict_column(judge: str) -> str:
    return "verdict_" + re.sub(r"[^0-9A-Za-z]+", "_", judge).strip("_")


def _verdicts(store: Any, source: str | None) -> tuple[dict[str, str], dict[tuple[int, str], int | None]]:
    """({judge: column}, {(candidate_id, judge): verdict})."""
    verdicts = {(r.candidate_id, r.judge): r.verdict for r in store.judgments(source=source)}
    judges = {j: verdict_column(j) for j in sorted({j for _, j in verdicts})}
    if len(set(judges.values())) != len(judges):
        raise UnigapError(f"judge names map to the same column: {judges}")
    return judges, verdicts


def _hf_rows(
    store: Any, source: str | None, judges: dict[str, str], verdicts: dict[tuple[int, str], int | None]
) -> Iterator[dict]:
    prompts = {p.id: p for p in store.prompts()}
    for c in sorted(store.candidates(source=source), key=lambda c: (c.source, c.prompt_id, c.idx)):
        p = prompts[c.prompt_id]
        row = {
            "prompt_id": p.id,
            "prompt": p.text,
            "suite": p.suite,
            "subtask": p.subtask,
            "band": p.band,
            "split": p.split,
            "source": c.source,
            "candidate_id": int(c.id),
            "idx": int(c.idx),
            "seed": int(c.seed),
            "png_file": str(_png_file(store, c.png)),
            "tokens": np.asarray(c.tokens).astype(np.int64).tolist(),
            "metadata": json.dumps(p.metadata),
        }
        row.update({col: verdicts.get((c.id, j)) for j, col in judges.items()})
        yield row


def _png_file(store: Any, png: str) -> Path:
    path = store.image_path(png)
    if not path.is_file():
        raise DataError(f"{path}: candidate image missing from the run folder")
    return store.verify_image(png)  # its content hash: a replaced image is refused, not exported


def _hf_features(judges: dict[str, str]) -> Any:
    from datasets import Features, Image, List, Value

    cols = {
        "prompt_id": Value("string"),
        "prompt": Value("string"),
        "suite": Value("string"),
        "subtask": Value("string"),
        "band": Value("string"),
        "split": Value("string"),
        "source": Value("string"),
        "candidate_id": Value("int64"),
        "idx": Value("int32"),
        "seed": Value("int64"),
        "image": Image(),
        "tokens": List(Value("int32")),
        "metadata": Value("string"),
    }
    cols.update({col: Value("int8") for col in judges.values()})
    return Features(cols)
