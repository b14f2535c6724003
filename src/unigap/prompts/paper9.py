"""The paper's 9-subtask audit (Han et al., arXiv 2507.16663, Table "difficulty bands").

easy   = GenEval single_object, two_object, color_attr
medium = T2I-CompBench texture, spatial, complex (val split for eval, train split for train)
hard   = Science-T2I physics, chemistry, biology

Options: geneval=<evaluation_metadata.jsonl>, t2i_compbench=<folder>, science_t2i=<parquet/jsonl>.
Science-T2I is optional: without it only 6 subtasks are built and a `SuiteWarning` says so.
GenEval and Science-T2I are evaluation-only, so split=train gives the T2I-CompBench part alone.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unigap.errors import UnigapError
from unigap.prompts._io import check_subtasks, no_extra_options
from unigap.records import Prompt

if TYPE_CHECKING:
    from unigap.prompts.base import SuiteConfig
    from unigap.prompts.options import Paper9Options

SUITE = "paper9"
BANDS: dict[str, tuple[str, ...]] = {
    "easy": ("single_object", "two_object", "color_attr"),
    "medium": ("texture", "spatial", "complex"),
    "hard": ("physics", "chemistry", "biology"),
}
SUBTASKS = tuple(s for group in BANDS.values() for s in group)
BAND_OF = {s: band for band, group in BANDS.items() for s in group}


class SuiteWarning(UserWarning):
    """A suite was built with fewer subtasks than asked for (e.g. Science-T2I not given)."""


def load_paper9(
    split: str = "eval",
    subtasks: list[str] | None = None,
    geneval: str | Path | None = None,
    t2i_compbench: str | Path | None = None,
    science_t2i: str | Path | None = None,
    **opts: Any,
) -> list[Prompt]:
    """The 9 (or 6, without Science-T2I) subtasks with their bands, easy first."""
    no_extra_options(SUITE, opts)
    if split not in ("eval", "val", "test", "train"):
        raise UnigapError(f"suite 'paper9': unknown split {split!r}; valid: eval, train")
    wanted = check_subtasks(SUITE, subtasks, SUBTASKS)
    train = split == "train"
    parts = [
        _part("easy", wanted, geneval, "geneval", _geneval, train),
        _part("medium", wanted, t2i_compbench, "t2i_compbench", _t2i_compbench, train),
        _part("hard", wanted, science_t2i, "science_t2i", _science_t2i, train),
    ]
    prompts = [dataclasses.replace(p, band=BAND_OF[p.subtask]) for part in parts for p in part]
    if train:
        _train_note(prompts)
    return prompts


def _train_note(prompts: list[Prompt]) -> None:
    if not prompts:
        raise UnigapError(
            "suite 'paper9' split=train: only T2I-CompBench texture/spatial/complex have a train "
            "split (GenEval and Science-T2I are evaluation-only); none of those was asked for"
        )
    warnings.warn(
        "paper9 split=train: GenEval and Science-T2I are evaluation-only; the train prompts are "
        "T2I-CompBench texture/spatial/complex only",
        SuiteWarning,
        stacklevel=3,
    )


Loader = Callable[[str, list[str], Any], list[Prompt]]


def _part(band: str, wanted: list[str], path: Any, option: str, loader: Loader, train: bool) -> list[Prompt]:
    subtasks = [s for s in BANDS[band] if s in wanted]
    if not subtasks or (train and band != "medium"):
        return []
    if path is None:
        if band == "hard":
            warnings.warn(
                "paper9: science_t2i=<file> not given: building the easy and medium bands only "
                f"(6 subtasks; {', '.join(subtasks)} left out)",
                SuiteWarning,
                stacklevel=3,
            )
            return []
        raise UnigapError(f"suite 'paper9' needs the option {option}=<path> for {', '.join(subtasks)}")
    return loader("train" if train else "eval", subtasks, path)


def _geneval(split: str, subtasks: list[str], path: Any) -> list[Prompt]:
    from unigap.prompts.geneval import load_geneval

    return load_geneval(split=split, subtasks=subtasks, path=path)


def _t2i_compbench(split: str, subtasks: list[str], path: Any) -> list[Prompt]:
    from unigap.prompts.t2i_compbench import load_t2i_compbench

    return load_t2i_compbench(split=split, subtasks=subtasks, path=path)


def _science_t2i(split: str, subtasks: list[str], path: Any) -> list[Prompt]:
    from unigap.prompts.science_t2i import load_science_t2i

    return load_science_t2i(split=split, subtasks=subtasks, path=path)


def paper9_suite(cfg: SuiteConfig, options: Paper9Options) -> list[Prompt]:
    """The registry's factory of `prompts.suite: paper9`."""
    return load_paper9(cfg.split, cfg.subtasks, **options.model_dump())
