"""The docs list every key of every config class and registry options class, with its default, and nothing else.

Each table follows a marker `<!-- config: module:Class -->`; its rows are `| `key` | `YAML default` | meaning |`.
The default cell is parsed as YAML and validated through the field's type, so a section's cell may list
only what differs from the section's own defaults.
"""

from __future__ import annotations

import importlib
import re
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, TypeAdapter

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
MARKER = re.compile(r"^<!-- config: ([\w.]+):(\w+) -->$")
ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|\s*`([^`]*)`\s*\|(.*)\|\s*$")
TOP_LEVEL = [
    "unigap.pipeline.run:RunConfig",
    "unigap.audit.runner:AuditConfig",
    "unigap.curation.curate:CurateConfig",
    "unigap.training.config:ImproveConfig",
    "unigap.training.pretrain:PretrainConfig",
]


def load(ref: str) -> type[BaseModel]:
    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)


def tables() -> dict[str, list[tuple[str, str, str]]]:
    """marker -> rows (key, default, meaning), in page order, over every page."""
    out: dict[str, list[tuple[str, str, str]]] = {}
    current = None
    pages = sorted(DOCS.rglob("*.md"))
    lines = [line for page in pages for line in [*page.read_text(encoding="utf-8").splitlines(), ""]]
    for line in lines:
        m = MARKER.match(line.strip())
        if m:
            current = f"{m.group(1)}:{m.group(2)}"
            assert current not in out, f"{current} is documented twice"
            out[current] = []
        elif current and line.startswith("|"):
            row = ROW.match(line)
            if row:
                out[current].append((row.group(1), row.group(2), row.group(3).strip()))
        elif current and out[current] and not line.strip():
            current = None  # the table ended
    return out


def sections(cls: type[BaseModel]) -> list[type[BaseModel]]:
    """The config classes nested in cls's fields (a list of entries counts: `judges`)."""
    found = []
    for field in cls.model_fields.values():
        for arg in (field.annotation, *typing.get_args(field.annotation)):
            for inner in (arg, *typing.get_args(arg)):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    found.append(inner)
    return found


def registered_options() -> list[type[BaseModel]]:
    """The options classes of every built-in model, judge and suite (plugins document their own)."""
    from unigap.judges.base import JUDGES
    from unigap.models.base import MODELS
    from unigap.prompts.base import SUITES

    found = []
    for registry in (MODELS, JUDGES, SUITES):
        for name in registry.names():
            cls = registry.options_class(name)
            if cls.model_fields and cls not in found:
                found.append(cls)
    return found


def reachable() -> list[type[BaseModel]]:
    todo, seen = [load(r) for r in TOP_LEVEL] + registered_options(), []
    while todo:
        cls = todo.pop(0)
        if cls not in seen:
            seen.append(cls)
            todo.extend(sections(cls))
    return seen


def dump(value):
    return TypeAdapter(typing.Any).dump_python(value, mode="json")


def test_every_config_class_is_documented_once():
    documented = set(tables())
    wanted = {f"{c.__module__}:{c.__name__}" for c in reachable()}
    assert wanted - documented == set(), "config classes with no table in docs/"
    assert documented - wanted == set(), "tables in docs/ for classes no command or registry entry reads"


@pytest.mark.parametrize("ref", sorted(tables()))
def test_table_matches_class(ref):
    cls, rows = load(ref), tables()[ref]
    keys = [k for k, _, _ in rows]
    assert keys == list(cls.model_fields), f"{ref}: documented keys differ from the class's fields (order included)"
    for key, default, meaning in rows:
        field = cls.model_fields[key]
        assert meaning, f"{ref}.{key}: no meaning given"
        documented = TypeAdapter(field.annotation).validate_python(yaml.safe_load(default))
        assert dump(documented) == dump(field.get_default(call_default_factory=True)), (
            f"{ref}.{key}: documented default {default!r} is not the class's {field.default!r}"
        )
