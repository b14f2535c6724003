"""Export to the `samples/` layout T2I-CompBench's evaluators read.

T2I-CompBench (Karine-Huang/T2I-CompBench, read, not copied): `BLIPvqa_eval/BLIP_vqa.py` and
`CLIPScore_eval/CLIP_similarity.py` list `<out_dir>/samples/`, sort the names by
`int(name.split("_")[-1].split(".")[0])` (the 6-digit global index), take the prompt as
`name.split("_")[0]` and number the results 0..N-1 in that order (`question_id`); the UniDet
dataset sorts by `name.split("_")[1]`. So a prompt with "_" (or "/", which makes a path) breaks
them, and every file of samples/ is read. `3_in_1_eval/3_in_1.py` further assumes images
i*10..i*10+9 belong to line i of complex_val.txt (10 images per prompt, file order).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from unigap.errors import DataError, UnigapError
from unigap.export.common import ExportResult, candidates_by_prompt, open_store, prepare, suite_prompts, write_png
from unigap.records import Prompt

T2I_SUITE = "t2i-compbench"
T2I_IMAGES_PER_PROMPT = 10  # the paper protocol; 3_in_1.py hard-codes it


def export_t2i_compbench(
    run_dir: str | Path,
    out: str | Path,
    source: str = "base",
    subtask: str | None = None,
    split: str = "eval",
    overwrite: bool = False,
) -> ExportResult:
    """`OUT/samples/<prompt>_<000000>.png` (one category) or `OUT/<category>/samples/...` (several)."""
    out, run_dir = Path(out), Path(run_dir)
    with open_store(run_dir) as store:
        prompts = [p for p in suite_prompts(store, T2I_SUITE, run_dir) if p.split == split]
        groups = _t2i_groups(prompts, subtask, run_dir, split)
        _check_t2i_prompts([p for ps in groups.values() for p in ps])
        by_prompt = candidates_by_prompt(store, source, [p for ps in groups.values() for p in ps], run_dir)
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
        raise UnigapError(
            f"{run_dir}: no T2I-CompBench prompts of category {subtask!r}; present: {', '.join(sorted(groups))}"
        )
    return {subtask: groups[subtask]}


def _check_t2i_prompts(prompts: list[Prompt]) -> None:
    bad = [p for p in prompts if "_" in p.text or "/" in p.text or "\0" in p.text or len(p.text.encode()) > 240]
    if bad:
        listing = "\n".join(f"  {p.id}: {p.text!r}" for p in bad[:20]) + (
            f"\n  ... {len(bad) - 20} more" if len(bad) > 20 else ""
        )
        raise DataError(
            f"{len(bad)} prompt(s) cannot be T2I-CompBench file names (the official readers take the "
            f"prompt as name.split('_')[0]; '/' makes a sub-folder; names are limited to 255 bytes):\n{listing}"
        )


def _t2i_category(
    store: Any,
    target: Path,
    category: str,
    prompts: list[Prompt],
    by_prompt: dict[str, list],
    result: ExportResult,
    overwrite: bool,
) -> None:
    samples = target / "samples"
    prepare(target, [samples] if samples.is_dir() and any(samples.iterdir()) else [], overwrite, "samples/")
    samples.mkdir(parents=True, exist_ok=True)
    n = 0
    for p in prompts:
        for c in by_prompt.get(p.id, []):
            write_png(store, c.png, samples / f"{p.text}_{n:06d}.png")
            n += 1
    result.prompts += sum(1 for p in prompts if by_prompt.get(p.id))
    result.images += n
    result.folders.append(target)
    result.notes.extend(_t2i_notes(category, prompts, by_prompt))


def _t2i_notes(category: str, prompts: list[Prompt], by_prompt: dict[str, list]) -> list[str]:
    counts = [len(by_prompt.get(p.id, [])) for p in prompts]
    notes = [f"{category}: {counts.count(0)} prompt(s) without candidates left out"] if 0 in counts else []
    if (
        category == "complex"
        and prompts[0].split == "eval"
        and (set(counts) != {T2I_IMAGES_PER_PROMPT} or len(prompts) != 300)
    ):
        notes.append(
            f"complex: 3_in_1.py assumes all 300 complex_val prompts with {T2I_IMAGES_PER_PROMPT} "
            f"images each, in file order; this export has {len(prompts)} prompt(s) with "
            f"{min(counts)}-{max(counts)} image(s) each, so its 3-in-1 score would be misaligned"
        )
    return notes
