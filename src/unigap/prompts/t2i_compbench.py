"""T2I-CompBench(++) (Karine-Huang/T2I-CompBench): `examples/dataset/<category>_{train,val}.txt`.

One prompt per line (CRLF and a missing final newline occur in the real files); whitespace is
stripped and blank lines skipped, the physical line number stays in `metadata["line"]`. The val
split is the benchmark's evaluation set and is stored as split "eval" ("val" and "eval" are both
accepted); ids are `t2i-compbench/{category}_{val|train}/{line:04d}`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from unigap.errors import DataError
from unigap.prompts._io import check_subtasks, need_path, no_extra_options, normalise_split, read_lines
from unigap.records import Prompt

if TYPE_CHECKING:
    from unigap.prompts.base import SuiteConfig
    from unigap.prompts.options import FileOptions

SUITE = "t2i-compbench"
CATEGORIES = ("3d_spatial", "color", "complex", "non_spatial", "numeracy", "shape", "spatial", "texture")
SPLITS = {"train": "train", "val": "val", "eval": "val", "test": "val"}


def load_t2i_compbench(
    split: str = "eval", subtasks: list[str] | None = None, path: str | Path | None = None, **opts: Any
) -> list[Prompt]:
    """Prompts of the requested categories (default all 8), category by category, in file order."""
    no_extra_options(SUITE, opts)
    file_split = normalise_split(SUITE, split, SPLITS)
    wanted = check_subtasks(SUITE, subtasks, CATEGORIES)
    folder = need_path(path, SUITE, "folder of <category>_{train,val}.txt files")
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder ({SUITE} expects the folder holding <category>_{file_split}.txt)")
    _check_files(folder, wanted, file_split)
    return [p for cat in wanted for p in _load_file(folder / f"{cat}_{file_split}.txt", cat, file_split)]


def _check_files(folder: Path, categories: list[str], file_split: str) -> None:
    missing = [f"{c}_{file_split}.txt" for c in categories if not (folder / f"{c}_{file_split}.txt").is_file()]
    if missing:
        raise DataError(f"{folder}: missing {', '.join(missing)} (choose categories with subtasks=[...])")


def _load_file(file: Path, category: str, file_split: str) -> list[Prompt]:
    split = "train" if file_split == "train" else "eval"
    prompts = [
        Prompt(
            id=f"{SUITE}/{category}_{file_split}/{lineno:04d}",
            text=text,
            subtask=category,
            split=split,
            suite=SUITE,
            metadata={"file": file.name, "line": lineno, "category": category},
        )
        for lineno, text in read_lines(file)
    ]
    if not prompts:
        raise DataError(f"{file}: no prompts")
    return prompts


def t2i_compbench_suite(cfg: SuiteConfig, options: FileOptions) -> list[Prompt]:
    """The registry's factory of `prompts.suite: t2i-compbench`."""
    return load_t2i_compbench(cfg.split, cfg.subtasks, **options.model_dump())
