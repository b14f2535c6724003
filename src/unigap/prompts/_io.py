"""Small readers shared by the suite loaders: JSONL/CSV/text rows with their line numbers.

Every error is a `DataError` that names the file and the (1-based) line.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from unigap.errors import DataError, UnigapError
from unigap.records import BANDS, Prompt


def need_path(path: str | Path | None, suite: str, what: str) -> Path:
    """The loader's `path` option as an existing Path, or an error saying what it should be."""
    if path is None or str(path) == "":
        raise UnigapError(f"suite {suite!r} needs the option path=<{what}>")
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{p}: not found ({suite} expects {what})")
    return p


def no_extra_options(suite: str, opts: dict[str, Any]) -> None:
    if opts:
        raise UnigapError(f"suite {suite!r}: unknown option(s) {', '.join(sorted(opts))}")


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) per non-blank line; a line that is not a JSON object is an error.
    UTF-8 with or without a byte-order mark (spreadsheets and Windows editors write one)."""
    with _open(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{lineno}: invalid JSON: {err.msg}") from None
            if not isinstance(obj, dict):
                raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def read_csv(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) per CSV record; a row with more cells than the header is an error. A byte-order
    mark is not part of the first column's name."""
    with _open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            if None in row:
                raise DataError(f"{path}:{reader.line_num}: more cells than the header has columns")
            if not any((v or "").strip() for v in row.values()):
                continue
            yield reader.line_num, row


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, stripped text) per non-blank line; CRLF, a byte-order mark and a missing final newline
    are fine."""
    with _open(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                yield lineno, line.strip()


class _open:
    """`path` opened as UTF-8 text (BOM skipped); a file that is not UTF-8 is a DataError naming the line."""

    def __init__(self, path: Path, newline: str | None = None) -> None:
        self.path, self.newline, self.fh = path, newline, None

    def __enter__(self) -> Iterator[str]:
        self.fh = self.path.open(encoding="utf-8-sig", newline=self.newline)
        return self._lines()

    def _lines(self) -> Iterator[str]:
        lineno = 0
        try:
            for lineno, line in enumerate(self.fh, 1):  # noqa: B007 - the except clause reports it
                yield line
        except UnicodeDecodeError as err:
            raise DataError(
                f"{self.path}: not UTF-8 text near line {lineno + 1} ({err.reason}); save the file as UTF-8"
            ) from None

    def __exit__(self, *exc: object) -> None:
        self.fh.close()


def field_str(row: dict[str, Any], key: str, where: str, required: bool = True) -> str | None:
    """A string field of a row; missing/empty -> error (required) or None."""
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise DataError(f"{where}: missing field {key!r}")
        return None
    if not isinstance(value, str):
        raise DataError(f"{where}: field {key!r} must be a string, got {type(value).__name__}")
    return value.strip()


def check_band(band: str | None, where: str) -> str | None:
    if band is not None and band not in BANDS:
        raise DataError(f"{where}: field 'band' must be one of {', '.join(BANDS)}, got {band!r}")
    return band


def check_subtasks(suite: str, subtasks: Iterable[str] | None, known: Sequence[str]) -> list[str]:
    """Requested subtasks (None = all known), each checked against the known ones."""
    if subtasks is None:
        return list(known)
    wanted = list(subtasks)
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise UnigapError(f"suite {suite!r}: unknown subtask(s) {', '.join(unknown)}; valid: {', '.join(known)}")
    return wanted


def filter_subtasks(prompts: list[Prompt], subtasks: Iterable[str] | None) -> list[Prompt]:
    if subtasks is None:
        return prompts
    keep = set(subtasks)
    return [p for p in prompts if p.subtask in keep]


def normalise_split(suite: str, split: str, aliases: dict[str, str]) -> str:
    """Map a requested split through the suite's aliases; unknown -> error listing the valid ones."""
    if split not in aliases:
        raise UnigapError(f"suite {suite!r}: unknown split {split!r}; valid: {', '.join(aliases)}")
    return aliases[split]
