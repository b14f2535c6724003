"""Export to the folder layout GenEval's evaluator reads.

GenEval (djghosh13/geneval, `evaluation/evaluate_images.py`, read, not copied): `main` lists
IMAGEDIR, keeps only sub-folders whose name is all digits, `json.load`s the single object in
`<folder>/metadata.jsonl` (written with `json.dump` by `generation/diffusers_generate.py`, one
folder per metadata line, named `f"{index:0>5}"`), then scores every file of `<folder>/samples/`
whose name matches `\\d+\\.png`. The metadata object drives the scoring (tag, include, exclude),
so it is written back verbatim; folder names follow the line order of evaluation_metadata.jsonl.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unigap.errors import DataError
from unigap.export.common import ExportResult, candidates_by_prompt, open_store, prepare, suite_prompts, write_png
from unigap.files import write_json
from unigap.records import Prompt

GENEVAL_SUITE = "geneval"


def export_geneval(run_dir: str | Path, out: str | Path, source: str = "base", overwrite: bool = False) -> ExportResult:
    """`OUT/<index:05d>/metadata.jsonl` + `OUT/<index:05d>/samples/<idx:04d>.png`, in metadata-file order."""
    out, run_dir = Path(out), Path(run_dir)
    with open_store(run_dir) as store:
        prompts = sorted(suite_prompts(store, GENEVAL_SUITE, run_dir), key=_geneval_index)
        by_prompt = candidates_by_prompt(store, source, prompts, run_dir)
        stale = [d for d in out.iterdir() if d.is_dir() and d.name.isdigit()] if out.is_dir() else []
        prepare(out, stale, overwrite, "GenEval folders")
        result = ExportResult(out)
        for p in prompts:
            _geneval_folder(store, out, p, by_prompt.get(p.id, []), result)
    missing = [p.id for p in prompts if not by_prompt.get(p.id)]
    if missing:
        result.notes.append(
            f"{len(missing)} prompt(s) without candidates left out: {', '.join(missing[:5])}"
            f"{', ...' if len(missing) > 5 else ''}"
        )
    return result


def _geneval_index(p: Prompt) -> int:
    if not isinstance(p.metadata.get("index"), int) or not isinstance(p.metadata.get("geneval"), dict):
        raise DataError(
            f"prompt {p.id}: no GenEval metadata (fields 'index' and 'geneval'); "
            "load GenEval prompts with the geneval suite"
        )
    return p.metadata["index"]


def _geneval_folder(store: Any, out: Path, p: Prompt, cands: list, result: ExportResult) -> None:
    if not cands:
        return
    folder = out / f"{_geneval_index(p):05d}"
    (folder / "samples").mkdir(parents=True, exist_ok=True)
    write_json(folder / "metadata.jsonl", p.metadata["geneval"], indent=None)  # as json.dump writes it
    for c in cands:
        write_png(store, c.png, folder / "samples" / f"{c.idx:04d}.png")
    result.prompts += 1
    result.images += len(cands)
    result.folders.append(folder)
