"""Named registries: the extension points (`--model tiny`, `--judge oracle`, `suite: geneval`).

Entries are registered with a decorator or as a lazy "module:attr" string so that heavy
backends (transformers) are imported only when selected.

    MODELS = Registry("model")

    @MODELS.register("tiny")
    def load_tiny(cfg): ...

    MODELS.register_lazy("janus", "unigap.models.janus:load")
"""

from __future__ import annotations

import importlib
from typing import Callable, Generic, TypeVar

from unigap.errors import UnigapError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            self._entries[name] = obj
            return obj

        return deco

    def register_lazy(self, name: str, target: str) -> None:
        self._entries[name] = target

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def get(self, name: str) -> T:
        if name not in self._entries:
            raise UnigapError(f"unknown {self.kind} {name!r}; valid: {', '.join(self.names())}")
        entry = self._entries[name]
        if isinstance(entry, str):
            module, attr = entry.split(":")
            entry = getattr(importlib.import_module(module), attr)
            self._entries[name] = entry
        return entry  # type: ignore[return-value]
