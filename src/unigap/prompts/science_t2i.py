"""Science-T2I (Jialuo-Li/Science-T2I): the hub datasets Science-T2I-S / -C saved as parquet or JSONL.

Columns used: implicit_prompt (the text generated from), explicit_prompt, superficial_prompt,
category (subtask, lower-cased: physics / chemistry / biology), law. The image columns
(explicit_image, superficial_image) are never read. The file carries no split: prompts are
labelled with the requested split ("eval", alias "test", or "train" for a training file).
Ids are `science-t2i/{split}/{row:04d}` with the 0-based row of the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unigap.errors import DataError, UnigapError
from unigap.prompts._io import field_str, filter_subtasks, need_path, no_extra_options, normalise_split, read_jsonl
from unigap.records import Prompt

if TYPE_CHECKING:
    from unigap.prompts.base import SuiteConfig
    from unigap.prompts.options import FileOptions

SUITE = "science-t2i"
COLUMNS = ("implicit_prompt", "explicit_prompt", "superficial_prompt", "category", "law")
CATEGORIES = ("physics", "chemistry", "biology")
SPLITS = {"eval": "eval", "test": "eval", "train": "train"}


def load_science_t2i(
    split: str = "eval", subtasks: list[str] | None = None, path: str | Path | None = None, **opts: Any
) -> list[Prompt]:
    """Science-T2I prompts in file order; subtasks filter on the lower-cased category."""
    no_extra_options(SUITE, opts)
    label = normalise_split(SUITE, split, SPLITS)
    file = need_path(path, SUITE, "Science-T2I parquet or JSONL file")
    prompts = [_prompt(row, i, label, where) for i, (where, row) in enumerate(_rows(file))]
    if not prompts:
        raise DataError(f"{file}: no rows")
    _check_present(file, prompts, subtasks)
    return filter_subtasks(prompts, subtasks)


def _check_present(file: Path, prompts: list[Prompt], subtasks: list[str] | None) -> None:
    present = sorted({p.subtask for p in prompts})
    absent = [s for s in subtasks or [] if s not in present]
    if absent:
        raise UnigapError(f"{file}: no prompts of subtask(s) {', '.join(absent)}; present: {', '.join(present)}")


def _rows(file: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    if file.suffix == ".parquet":
        yield from _parquet_rows(file)
    elif file.suffix in (".jsonl", ".json"):
        for lineno, row in read_jsonl(file):
            _check_columns(file, row.keys(), f"{file}:{lineno}")
            yield f"{file}:{lineno}", row
    else:
        raise DataError(f"{file}: expected a .parquet or .jsonl file")


def _parquet_rows(file: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(file).names
    except Exception as err:  # pyarrow raises several types for a non-parquet file
        raise DataError(f"{file}: not a readable parquet file: {err}") from None
    _check_columns(file, names, str(file))
    table = pq.read_table(file, columns=list(COLUMNS))  # image columns are never loaded
    for i, row in enumerate(table.to_pylist()):
        yield f"{file}: row {i}", row


def _check_columns(file: Path, names: Any, where: str) -> None:
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise DataError(
            f"{where}: missing required column(s) {', '.join(missing)} (Science-T2I files have {', '.join(COLUMNS)})"
        )


def _prompt(row: dict[str, Any], index: int, split: str, where: str) -> Prompt:
    text = field_str(row, "implicit_prompt", where)
    meta = {k: field_str(row, k, where, required=False) for k in ("explicit_prompt", "superficial_prompt", "law")}
    category = field_str(row, "category", where)
    meta.update(row=index, category=category)
    return Prompt(
        id=f"{SUITE}/{split}/{index:04d}", text=text, subtask=category.lower(), split=split, suite=SUITE, metadata=meta
    )


def science_t2i_suite(cfg: SuiteConfig, options: FileOptions) -> list[Prompt]:
    """The registry's factory of `prompts.suite: science-t2i`."""
    return load_science_t2i(cfg.split, cfg.subtasks, **options.model_dump())
