"""Export a run's candidates to the folder layouts the official evaluators read, or to a HF dataset.

GenEval (djghosh13/geneval, `evaluation/evaluate_images.py`, read, not copied): `main` lists
IMAGEDIR, keeps only sub-folders whose name is all digits, `json.load`s the single object in
`<folder>/metadata.jsonl` (written with `json.dump` by `generation/diffusers_generate.py`, one
folder per metadata line, named `f"{index:0>5}"`), then scores every file of `<folder>/samples/`
whose name matches `\\d+\\.png`. The metadata object drives the scoring (tag, include, exclude),
so it is written back verbatim; folder names follow the line order of evaluation_metadata.jsonl.

T2I-CompBench (Karine-Huang/T2I-CompBench, read, not copied): `BLIPvqa_eval/BLIP_vqa.py` and
`CLIPScore_eval/CLIP_similarity.py` list `<out_dir>/samples/`, sort the names by
`int(name.split("_")[-1].split(".")[0])` (the 6-digit global index), take the prompt as
`name.split("_")[0]` and number the results 0..N-1 in that order (`question_id`); the UniDet
dataset sorts by `name.split("_")[1]`. So a prompt with "_" (or "/", which makes a path) breaks
them, and every file of samples/ is read. `3_in_1_eval/3_in_1.py` further assumes images
i*10..i*10+9 belong to line i of complex_val.txt (10 images per prompt, file order).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from unigap.errors import DataError, UnigapError
from unigap.records import Prompt

T2I_SUITE = "t2i-compbench"
GENEVAL_SUITE = "geneval"
T2I_IMAGES_PER_PROMPT = 10  # the paper protocol; 3_in_1.py hard-codes it


@dataclass
class ExportResult:
    out: Path
    prompts: int = 0
    images: int = 0
    folders: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------- shared


def _open(run_dir: str | Path) -> Any:
    from unigap.store import RunStore

    return RunStore.open(run_dir, create=False)


def _suite_prompts(store: Any, suite: str, run_dir: str | Path) -> list[Prompt]:
    prompts = [p for p in store.prompts() if p.suite == suite]
    if not prompts:
        present = sorted({p.suite for p in store.prompts()})
        raise UnigapError(f"{run_dir}: the run holds no {suite} prompts (suites present: {', '.join(present) or 'none'})")
    return prompts


def _candidates_by_prompt(store: Any, source: str | None, prompts: list[Prompt], run_dir: str | Path) -> dict[str, list]:
    cands = store.candidates(source=source, prompt_ids=[p.id for p in prompts])
    if not cands:
        sources = sorted({c.source for c in store.candidates()})
        raise UnigapError(f"{run_dir}: no candidates of source {source!r} for these prompts "
                          f"(sources present: {', '.join(sources) or 'none'})")
    by_prompt: dict[str, list] = defaultdict(list)
    for c in sorted(cands, key=lambda c: (c.prompt_id, c.idx)):
        by_prompt[c.prompt_id].append(c)
    return by_prompt


def _write_png(store: Any, png: str, dest: Path) -> None:
    """Copy the stored PNG byte for byte; decode and re-encode only if it is not a PNG file."""
    src = store.image_path(png)
    if src.suffix.lower() == ".png" and src.is_file():
        shutil.copyfile(src, dest)
        return
    from PIL import Image

    Image.fromarray(np.asarray(store.load_image(png), dtype=np.uint8)).save(dest, format="PNG")


def _prepare(out: Path, stale: list[Path], overwrite: bool, what: str) -> None:
    """Refuse to mix with an earlier export (the readers read every file), or remove it."""
    if stale and not overwrite:
        raise UnigapError(f"{out}: already holds {what} ({stale[0].name}, ...); the evaluator would read them too. "
                          "Choose an empty --out or pass --overwrite")
    for path in stale:
        shutil.rmtree(path)
    out.mkdir(parents=True, exist_ok=True)


# --------------------------------------------------------------------------------------- GenEval


def export_geneval(run_dir: str | Path, out: str | Path, source: str = "base", overwrite: bool = False) -> ExportResult:
    """`OUT/<index:05d>/metadata.jsonl` + `OUT/<index:05d>/samples/<idx:04d>.png`, in metadata-file order."""
    out, run_dir = Path(out), Path(run_dir)
    with _open(run_dir) as store:
        prompts = sorted(_suite_prompts(store, GENEVAL_SUITE, run_dir), key=_geneval_index)
        by_prompt = _candidates_by_prompt(store, source, prompts, run_dir)
        stale = [d for d in out.iterdir() if d.is_dir() and d.name.isdigit()] if out.is_dir() else []
        _prepare(out, stale, overwrite, "GenEval folders")
        result = ExportResult(out)
        for p in prompts:
            _geneval_folder(store, out, p, by_prompt.get(p.id, []), result)
    missing = [p.id for p in prompts if not by_prompt.get(p.id)]
    if missing:
        result.notes.append(f"{len(missing)} prompt(s) without candidates left out: {', '.join(missing[:5])}"
                            f"{', ...' if len(missing) > 5 else ''}")
    return result


def _geneval_index(p: Prompt) -> int:
    if not isinstance(p.metadata.get("index"), int) or not isinstance(p.metadata.get("geneval"), dict):
        raise DataError(f"prompt {p.id}: no GenEval metadata (fields 'index' and 'geneval'); "
                        "load GenEval prompts with the geneval suite")
    return p.metadata["index"]


def _geneval_folder(store: Any, out: Path, p: Prompt, cands: list, result: ExportResult) -> None:
    if not cands:
        return
    folder = out / f"{_geneval_index(p):05d}"
    (folder / "samples").mkdir(parents=True, exist_ok=True)
    with (folder / "metadata.jsonl").open("w") as fh:
        json.dump(p.metadata["geneval"], fh)
    for c in cands:
        _write_png(store, c.png, folder / "samples" / f"{c.idx:04d}.png")
    result.prompts += 1
    result.images += len(cands)
    result.folders.append(folder)


# --------------------------------------------------------------------------------------- T2I-CompBench


def export_t2icompbench(run_dir: str | Path, out: str | Path, source: str = "base", subtask: str | None = None,
                        split: str = "eval", overwrite: bool = False) -> ExportResult:
    """`OUT/samples/<prompt>_<000000>.png` (one category) or `OUT/<category>/samples/...` (several)."""
    out, run_dir = Path(out), Path(run_dir)
    with _open(run_dir) as store:
        prompts = [p for p in _suite_prompts(store, T2I_SUITE, run_dir) if p.split == split]
        groups = _t2i_groups(prompts, subtask, run_dir, split)
        _check_t2i_prompts([p for ps in groups.values() for p in ps])
        by_prompt = _candidates_by_prompt(store, source, [p for ps in groups.values() for p in ps], run_dir)
        result = ExportResult(out)
        for category, prompts in groups.items():
            target = out if len(groups) == 1 else out / category
            _t2i_category(store, target, category, prompts, by_prompt, result, overwrite)
    return result


def _t2i_groups(prompts: list[Prompt], subtask: str | None, run_dir: Path, split: str) -> dict[str, list[Prompt]]:
    """Prompts per category, each in benchmark-file order."""
    if not prompts:
        raise UnigapError(f"{run_dir}: no T2I-CompBench prompts of split {split!r}")
    groups: dict[str, list[Prompt]] = defaultdict(list)
    for p in sorted(prompts, key=lambda p: (p.metadata.get("line", 0), p.id)):
        groups[p.subtask].append(p)
    if subtask is None:
        return dict(groups)
    if subtask not in groups:
        raise UnigapError(f"{run_dir}: no T2I-CompBench prompts of category {subtask!r}; "
                          f"present: {', '.join(sorted(groups))}")
    return {subtask: groups[subtask]}


def _check_t2i_prompts(prompts: list[Prompt]) -> None:
    bad = [p for p in prompts if "_" in p.text or "/" in p.text or "\0" in p.text or len(p.text.encode()) > 240]
    if bad:
        listing = "\n".join(f"  {p.id}: {p.text!r}" for p in bad[:20]) + (f"\n  ... {len(bad) - 20} more" if len(bad) > 20 else "")
        raise DataError(f"{len(bad)} prompt(s) cannot be T2I-CompBench file names (the official readers take the "
                        f"prompt as name.split('_')[0]; '/' makes a sub-folder; names are limited to 255 bytes):\n{listing}")


def _t2i_category(store: Any, target: Path, category: str, prompts: list[Prompt],
                  by_prompt: dict[str, list], result: ExportResult, overwrite: bool) -> None:
    samples = target / "samples"
    _prepare(target, [samples] if samples.is_dir() and any(samples.iterdir()) else [], overwrite, "samples/")
    samples.mkdir(parents=True, exist_ok=True)
    n = 0
    for p in prompts:
        for c in by_prompt.get(p.id, []):
            _write_png(store, c.png, samples / f"{p.text}_{n:06d}.png")
            n += 1
    result.prompts += sum(1 for p in prompts if by_prompt.get(p.id))
    result.images += n
    result.folders.append(target)
    result.notes.extend(_t2i_notes(category, prompts, by_prompt))


def _t2i_notes(category: str, prompts: list[Prompt], by_prompt: dict[str, list]) -> list[str]:
    counts = [len(by_prompt.get(p.id, [])) for p in prompts]
    notes = [f"{category}: {counts.count(0)} prompt(s) without candidates left out"] if 0 in counts else []
    if category == "complex" and prompts[0].split == "eval" and (set(counts) != {T2I_IMAGES_PER_PROMPT} or len(prompts) != 300):
        notes.append(f"complex: 3_in_1.py assumes all 300 complex_val prompts with {T2I_IMAGES_PER_PROMPT} "
                     f"images each, in file order; this export has {len(prompts)} prompt(s) with "
                     f"{min(counts)}-{max(counts)} image(s) each, so its 3-in-1 score would be misaligned")
    return notes


# --------------------------------------------------------------------------------------- HF dataset


def export_hf(run_dir: str | Path, out: str | Path, source: str | None = None, overwrite: bool = False) -> ExportResult:
    """A `datasets` dataset (save_to_disk) with one row per candidate and one verdict column per judge."""
    from datasets import Dataset

    out, run_dir = Path(out), Path(run_dir)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise UnigapError(f"{out}: not empty; choose an empty --out or pass --overwrite")
    with _open(run_dir) as store, tempfile.TemporaryDirectory() as cache:
        judges, verdicts = _verdicts(store, source)
        rows = list(_hf_rows(store, source, judges, verdicts))
        if not rows:
            raise UnigapError(f"{run_dir}: no candidates{'' if source is None else f' of source {source!r}'} to export")
        ds = Dataset.from_generator(_gen, gen_kwargs={"rows": rows}, features=_hf_features(judges), cache_dir=cache)
        if out.exists():
            shutil.rmtree(out)
        ds.save_to_disk(str(out))
    return ExportResult(out, prompts=len({r["prompt_id"] for r in rows}), images=len(rows), folders=[out],
                        notes=[f"verdict columns: {', '.join(judges.values()) or 'none'}"])


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


def _hf_rows(store: Any, source: str | None, judges: dict[str, str],
             verdicts: dict[tuple[int, str], int | None]) -> Iterator[dict]:
    prompts = {p.id: p for p in store.prompts()}
    for c in sorted(store.candidates(source=source), key=lambda c: (c.source, c.prompt_id, c.idx)):
        p = prompts[c.prompt_id]
        row = {"prompt_id": p.id, "prompt": p.text, "suite": p.suite, "subtask": p.subtask, "band": p.band,
               "split": p.split, "source": c.source, "candidate_id": int(c.id), "idx": int(c.idx),
               "seed": int(c.seed), "png_file": str(_png_file(store, c.png)),
               "tokens": np.asarray(c.tokens).astype(np.int64).tolist(), "metadata": json.dumps(p.metadata)}
        row.update({col: verdicts.get((c.id, j)) for j, col in judges.items()})
        yield row


def _png_file(store: Any, png: str) -> Path:
    path = store.image_path(png)
    if not path.is_file():
        raise DataError(f"{path}: candidate image missing from the run folder")
    return path


def _hf_features(judges: dict[str, str]) -> Any:
    from datasets import Features, Image, List, Value

    cols = {"prompt_id": Value("string"), "prompt": Value("string"), "suite": Value("string"),
            "subtask": Value("string"), "band": Value("string"), "split": Value("string"),
            "source": Value("string"), "candidate_id": Value("int64"), "idx": Value("int32"),
            "seed": Value("int64"), "image": Image(), "tokens": List(Value("int32")), "metadata": Value("string")}
    cols.update({col: Value("int8") for col in judges.values()})
    return Features(cols)
