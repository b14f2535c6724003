"""Custom prompt files: JSONL, CSV, or plain text.

JSONL/CSV columns: `prompt` and `subtask` (required), `band` (easy/medium/hard, optional),
`split` (optional; a row without one belongs to whatever split is asked for), `id` (optional);
every other column goes to `metadata`. A plain .txt file holds one prompt per line; its subtask
is the `subtask` option or the file's stem. Ids default to `custom/{stem}/{line:05d}`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unigap.errors import DataError, UnigapError
from unigap.prompts._io import check_band, field_str, filter_subtasks, need_path, read_csv, read_jsonl, read_lines
from unigap.records import Prompt

if TYPE_CHECKING:
    from unigap.prompts.base import SuiteConfig
    from unigap.prompts.options import CustomOptions

SUITE = "custom"
RESERVED = ("id", "prompt", "subtask", "band", "split")
SPLIT_ALIASES = {"val": "eval", "test": "eval"}


def load_custom(
    split: str = "eval",
    subtasks: list[str] | None = None,
    path: str | Path | None = None,
    subtask: str | None = None,
    **opts: Any,
) -> list[Prompt]:
    """Prompts of `path` whose split (or absent split) matches `split`."""
    if opts:
        raise UnigapError(f"suite 'custom': unknown option(s) {', '.join(sorted(opts))}")
    file = need_path(path, SUITE, "a .jsonl, .csv or .txt prompt file")
    want = _norm_split(split)
    prompts = [p for p in _prompts(file, want, subtask) if p.split == want]
    _check_unique(file, prompts)
    _check_present(file, prompts, subtasks, want)
    return filter_subtasks(prompts, subtasks)


def _norm_split(split: str) -> str:
    return SPLIT_ALIASES.get(split, split)


def _prompts(file: Path, split: str, subtask: str | None, suite: str = SUITE) -> Iterator[Prompt]:
    suffix = file.suffix.lower()
    if suffix == ".txt":
        for lineno, text in read_lines(file):
            yield Prompt(
                id=f"{suite}/{file.stem}/{lineno:05d}",
                text=text,
                subtask=subtask or file.stem,
                split=split,
                suite=suite,
                metadata={"file": file.name, "line": lineno},
            )
        return
    if suffix not in (".jsonl", ".json", ".csv"):
        raise DataError(f"{file}: unsupported prompt file type {suffix!r} (use .jsonl, .csv or .txt)")
    rows = read_csv(file) if suffix == ".csv" else read_jsonl(file)
    for lineno, row in rows:
        yield _row_prompt(row, f"{file}:{lineno}", f"{suite}/{file.stem}/{lineno:05d}", split, suite)


def _row_prompt(row: dict[str, Any], where: str, default_id: str, split: str, suite: str) -> Prompt:
    row_split = field_str(row, "split", where, required=False)
    meta = {k: v for k, v in row.items() if k not in RESERVED}
    return Prompt(
        id=_row_id(row, where, default_id),
        text=field_str(row, "prompt", where),
        subtask=field_str(row, "subtask", where),
        split=_norm_split(row_split) if row_split else split,
        suite=suite,
        band=check_band(field_str(row, "band", where, required=False), where),
        metadata=meta,
    )


def _row_id(row: dict[str, Any], where: str, default: str) -> str:
    value = row.get("id")
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if not isinstance(value, (str, int)):
        raise DataError(f"{where}: field 'id' must be a string or an integer")
    return str(value).strip()


def _check_unique(file: Path, prompts: list[Prompt]) -> None:
    seen: set[str] = set()
    for p in prompts:
        if p.id in seen:
            raise DataError(f"{file}: duplicate id {p.id!r}")
        seen.add(p.id)


def _check_present(file: Path, prompts: list[Prompt], subtasks: list[str] | None, split: str) -> None:
    if not prompts:
        raise DataError(f"{file}: no prompts of split {split!r}")
    present = sorted({p.subtask for p in prompts})
    absent = [s for s in subtasks or [] if s not in present]
    if absent:
        raise UnigapError(f"{file}: no prompts of subtask(s) {', '.join(absent)}; present: {', '.join(present)}")


def custom_suite(cfg: SuiteConfig, options: CustomOptions) -> list[Prompt]:
    """The registry's factory of `prompts.suite: custom`."""
    return load_custom(cfg.split, cfg.subtasks, **options.model_dump())
