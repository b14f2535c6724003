"""GenEval (djghosh13/geneval): `prompts/evaluation_metadata.jsonl`, one JSON object per line.

Each line has `tag`, `include`, optional `exclude` and `prompt`. The tag is the subtask. The
whole line is kept verbatim in `metadata["geneval"]` (the exporter writes it back into the
official folder layout) with its 0-based position in the file in `metadata["index"]`; the
prompt id is `geneval/{index:05d}`, the folder name the official generator gives it.
GenEval is an evaluation benchmark only: it has no train split.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from unigap.errors import DataError, UnigapError
from unigap.prompts._io import check_subtasks, filter_subtasks, need_path, no_extra_options, read_jsonl
from unigap.records import Prompt

if TYPE_CHECKING:
    from unigap.prompts.base import SuiteConfig
    from unigap.prompts.options import FileOptions

SUITE = "geneval"
TAGS = ("single_object", "two_object", "counting", "colors", "position", "color_attr")


def load_geneval(
    split: str = "eval", subtasks: list[str] | None = None, path: str | Path | None = None, **opts: Any
) -> list[Prompt]:
    """GenEval prompts of an evaluation_metadata.jsonl, in file order."""
    no_extra_options(SUITE, opts)
    if split not in ("eval", "test"):
        raise UnigapError(f"suite 'geneval' has no {split!r} split: it is evaluation-only (use split=eval)")
    wanted = check_subtasks(SUITE, subtasks, TAGS)
    file = need_path(path, SUITE, "evaluation_metadata.jsonl")
    prompts = [_prompt(file, lineno, index, obj) for index, (lineno, obj) in enumerate(read_jsonl(file))]
    return filter_subtasks(prompts, wanted)


def _prompt(file: Path, lineno: int, index: int, obj: dict[str, Any]) -> Prompt:
    where = f"{file}:{lineno}"
    _check_line(obj, where)
    return Prompt(
        id=f"{SUITE}/{index:05d}",
        text=obj["prompt"].strip(),
        subtask=obj["tag"],
        split="eval",
        suite=SUITE,
        metadata={"index": index, "geneval": obj},
    )


def _check_line(obj: dict[str, Any], where: str) -> None:
    for key, kind in (("tag", str), ("prompt", str), ("include", list)):
        if key not in obj:
            raise DataError(f"{where}: missing field {key!r}")
        if not isinstance(obj[key], kind):
            raise DataError(f"{where}: field {key!r} must be a {kind.__name__}")
    if obj["tag"] not in TAGS:
        raise DataError(f"{where}: unknown tag {obj['tag']!r}; known tags: {', '.join(TAGS)}")
    if not obj["prompt"].strip():
        raise DataError(f"{where}: field 'prompt' is empty")
    if "exclude" in obj and not isinstance(obj["exclude"], list):
        raise DataError(f"{where}: field 'exclude' must be a list")


def geneval_suite(cfg: SuiteConfig, options: FileOptions) -> list[Prompt]:
    """The registry's factory of `prompts.suite: geneval`."""
    return load_geneval(cfg.split, cfg.subtasks, **options.model_dump())
