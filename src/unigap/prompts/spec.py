"""Suite specs on the command line: one string naming prompts to load.

    t2i-compbench:/data/t2i-compbench:train      suite, path, split
    geneval:/data/geneval/evaluation_metadata.jsonl  (split defaults to eval)
    paper9:geneval=/a.jsonl,t2i_compbench=/dir:eval  options instead of a path
    prompts.jsonl / prompts.csv / prompts.txt    an existing file: the `custom` suite

The split is the last `:`-field when it is one of the known split words, so paths may hold ':'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unigap.errors import UnigapError
from unigap.records import Prompt

SPLIT_WORDS = ("train", "eval", "val", "test")


@dataclass(frozen=True)
class SuiteSpec:
    suite: str
    split: str
    options: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        opts = ",".join(f"{k}={v}" for k, v in self.options.items())
        return f"{self.suite}:{opts}:{self.split}"


def parse_spec(text: str, default_split: str = "eval") -> SuiteSpec:
    """Parse a suite spec (see the module docstring); an existing file is a `custom` suite."""
    from unigap.prompts.base import SUITES

    if Path(text).expanduser().is_file():
        return SuiteSpec("custom", default_split, {"path": text})
    suite, sep, rest = text.partition(":")
    if not sep or suite not in SUITES:
        raise UnigapError(
            f"{text!r} is neither an existing file nor a suite spec SUITE:PATH[:SPLIT] "
            f"(suites: {', '.join(SUITES.names())})"
        )
    body, split = _split_off(rest, default_split)
    return SuiteSpec(suite, split, _options(body, text))


def _split_off(rest: str, default: str) -> tuple[str, str]:
    head, sep, tail = rest.rpartition(":")
    if sep and tail in SPLIT_WORDS:
        return head, tail
    if rest in SPLIT_WORDS:
        return "", rest
    return rest, default


def _options(body: str, text: str) -> dict[str, Any]:
    if not body:
        return {}
    if "=" not in body:
        return {"path": body}
    items = [item.partition("=") for item in body.split(",")]
    bad = [k for k, sep, _ in items if not sep or not k.strip()]
    if bad:
        raise UnigapError(f"{text!r}: options must be key=value pairs separated by ','")
    return {k.strip(): v.strip() for k, _, v in items}


def load_spec(text: str, default_split: str = "eval", subtasks: list[str] | None = None) -> list[Prompt]:
    """The prompts a suite spec names (optionally only some subtasks)."""
    from unigap.prompts.base import SUITES, SuiteConfig

    spec = parse_spec(text, default_split)
    cfg = SuiteConfig(suite=spec.suite, split=spec.split, subtasks=subtasks or None, options=spec.options)
    return SUITES.create(spec.suite, cfg, f"suite spec {text!r}: options")
