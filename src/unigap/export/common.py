"""What every exporter shares: opening the run store, selecting prompts and candidates, writing PNGs."""

from __future__ import annotations

import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from unigap.errors import UnigapError
from unigap.records import Prompt


@dataclass
class ExportResult:
    out: Path
    prompts: int = 0
    images: int = 0
    folders: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def open_store(run_dir: str | Path) -> Any:
    from unigap.store import RunStore

    return RunStore.open(run_dir, create=False)


def suite_prompts(store: Any, suite: str, run_dir: str | Path) -> list[Prompt]:
    prompts = [p for p in store.prompts() if p.suite == suite]
    if not prompts:
        present = sorted({p.suite for p in store.prompts()})
        raise UnigapError(
            f"{run_dir}: the run holds no {suite} prompts (suites present: {', '.join(present) or 'none'})"
        )
    return prompts


def candidates_by_prompt(store: Any, source: str | None, prompts: list[Prompt], run_dir: str | Path) -> dict[str, list]:
    cands = store.candidates(source=source, prompt_ids=[p.id for p in prompts])
    if not cands:
        sources = sorted({c.source for c in store.candidates()})
        raise UnigapError(
            f"{run_dir}: no candidates of source {source!r} for these prompts "
            f"(sources present: {', '.join(sources) or 'none'})"
        )
    by_prompt: dict[str, list] = defaultdict(list)
    for c in sorted(cands, key=lambda c: (c.prompt_id, c.idx)):
        by_prompt[c.prompt_id].append(c)
    return by_prompt


def write_png(store: Any, png: str, dest: Path) -> None:
    """Copy the stored PNG byte for byte; decode and re-encode only if it is not a PNG file."""
    from unigap.files import encode_png, write_atomic

    src = store.verify_image(png)  # its content hash: a replaced image is refused, not exported
    if src.suffix.lower() == ".png" and src.is_file():
        write_atomic(dest, src.read_bytes())
        return
    write_atomic(dest, encode_png(np.asarray(store.load_image(png), dtype=np.uint8)))


def prepare(out: Path, stale: list[Path], overwrite: bool, what: str) -> None:
    """Refuse to mix with an earlier export (the readers read every file), or remove it."""
    if stale and not overwrite:
        raise UnigapError(
            f"{out}: already holds {what} ({stale[0].name}, ...); the evaluator would read them too. "
            "Choose an empty --out or pass --overwrite"
        )
    for path in stale:
        shutil.rmtree(path)
    out.mkdir(parents=True, exist_ok=True)
