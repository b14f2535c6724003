"""Named registries: the extension points (`model.name: tiny`, `judges: [{name: oracle}]`, `suite: geneval`).

One convention for every registry: an entry is a **factory `factory(cfg, options) -> object`**, where
`cfg` is the config section that named the entry (`ModelConfig`, `JudgeConfig`, `SuiteConfig`, ...) and
`options` is `cfg.options` validated against the entry's typed options class (a `unigap.config.Config`
subclass, so unknown keys are errors naming the key). `Registry.create(name, cfg, where)` does both.
Built-in entries are registered beside their options, lazily as "module:attr" strings, so heavy
backends (transformers) are imported only when selected:

    MODELS = Registry("model", group="unigap.models")
    MODELS.register_lazy("emu3", "unigap.models.emu3.backend:load_emu3",
                         options="unigap.models.emu3.options:Emu3Options",
                         synthetic="unigap.models.emu3.synthetic:write_synthetic")

Third-party packages add entries through Python entry points in the registry's group (simonw/llm
style): the entry point names a factory declared with `@factory(options=..., **extras)` (its
`Options` attribute is the options class; models: its `synthetic` attribute the synthetic-checkpoint
writer). An entry point whose target was not declared with `@factory` follows the registry's older
convention (`legacy`: judges `Judge(**options)`, suites `load(split=, subtasks=, **options)`,
models `load(cfg, options)` as now) and still works, with a `FutureWarning`.
A plugin that fails to import is recorded (`plugins()` shows the error); the others still load.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from unigap.errors import ConfigError, UnigapError

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
Target = Any  # an object or a lazy "module:attr" string
Legacy = Callable[[Callable[..., Any], Any, BaseModel], Any]  # (old-style factory, cfg, options) -> object
MARK = "unigap_factory"  # set by @factory: the target follows the factory(cfg, options) convention


class NoOptions(BaseModel):
    """The options of an entry that declares none: every key is unknown."""

    model_config = {"extra": "forbid"}


def factory(options: type[BaseModel] | None = None, **extras: Any) -> Callable[[F], F]:
    """Declare a plugin's `fn(cfg, options)` as a registry factory, with its options class and extras
    (models: `synthetic=write_synthetic`). The entry point in `pyproject.toml` names `fn`."""

    def deco(fn: F) -> F:
        if options is not None:
            fn.Options = options  # type: ignore[attr-defined]
        for key, value in extras.items():
            setattr(fn, key, value)
        setattr(fn, MARK, True)
        return fn

    return deco


def resolve(target: Target) -> Any:
    if not isinstance(target, str):
        return target
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass
class Entry:
    name: str
    factory: Target
    options: Target = None
    extras: dict[str, Target] = field(default_factory=dict)
    source: str = "unigap"  # "unigap" for built-ins, else the distribution that registered it
    error: str | None = None  # a plugin that failed to import
    legacy: bool = False  # a plugin factory in the registry's older convention (not declared with @factory)


class Registry(Generic[T]):
    """Entries by name; `create` builds one from its config section. `legacy` calls an entry point that
    was not declared with `@factory` the way this registry used to (None: as a factory(cfg, options))."""

    def __init__(self, kind: str, group: str | None = None, legacy: Legacy | None = None) -> None:
        self.kind, self.group, self.legacy = kind, group, legacy
        self._entries: dict[str, Entry] = {}
        self._plugins_loaded = group is None

    # --- registration -------------------------------------------------------------------
    def register(self, name: str, options: Target = None, **extras: Target) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            self._add(Entry(name, obj, options, extras))
            return obj

        return deco

    def register_lazy(self, name: str, target: str, options: Target = None, **extras: Target) -> None:
        self._add(Entry(name, target, options, extras))

    def _add(self, entry: Entry) -> None:
        old = self._entries.get(entry.name)
        if old is not None and old.source != entry.source:
            raise UnigapError(
                f"{self.kind} {entry.name!r} is registered by both {old.source!r} and "
                f"{entry.source!r}; uninstall one of them"
            )
        self._entries[entry.name] = entry

    # --- plugins ------------------------------------------------------------------------
    def load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=self.group):
            source = ep.dist.name if ep.dist is not None else ep.value
            try:
                obj = ep.load()
            except Exception as err:  # noqa: BLE001 - a broken plugin must not break the others
                self._add(Entry(ep.name, ep.value, source=source, error=f"{type(err).__name__}: {err}"))
                continue
            extras = {k: getattr(obj, k) for k in ("synthetic",) if getattr(obj, k, None) is not None}
            legacy = self.legacy is not None and not getattr(obj, MARK, False)
            if legacy:
                warnings.warn(
                    f"{self.kind} {ep.name!r} (plugin from {source}): {ep.value} is not declared with "
                    f"@unigap.registry.factory; it is called the old way, which a later unigap will "
                    f"drop (docs/backends.md: factory(cfg, options))",
                    FutureWarning,
                    stacklevel=2,
                )
            self._add(Entry(ep.name, obj, getattr(obj, "Options", None), extras, source, legacy=legacy))

    # --- lookup -------------------------------------------------------------------------
    def names(self) -> list[str]:
        self.load_plugins()
        return sorted(n for n, e in self._entries.items() if e.error is None)

    def entries(self) -> list[Entry]:
        self.load_plugins()
        return [self._entries[n] for n in sorted(self._entries)]

    def __contains__(self, name: str) -> bool:
        return name in self.names()

    def entry(self, name: str) -> Entry:
        self.load_plugins()
        e = self._entries.get(name)
        if e is None:
            raise ConfigError(f"unknown {self.kind} {name!r}; valid: {', '.join(self.names())}")
        if e.error is not None:
            raise UnigapError(f"{self.kind} {name!r} (plugin from {e.source}) failed to import: {e.error}")
        return e

    def get(self, name: str) -> T:
        """The registered factory itself (call it as factory(cfg, options), or use `create`)."""
        e = self.entry(name)
        e.factory = resolve(e.factory)
        return e.factory  # type: ignore[return-value]

    def create(self, name: str, cfg: Any, where: str) -> Any:
        """The entry built from its config section: factory(cfg, cfg.options validated); errors name `where`."""
        options = self.validate_options(name, getattr(cfg, "options", None) or {}, where)
        fn = self.get(name)
        if self.entry(name).legacy and self.legacy is not None:
            return self.legacy(fn, cfg, options)
        return fn(cfg, options)  # type: ignore[operator]

    def options_class(self, name: str) -> type[BaseModel]:
        e = self.entry(name)
        if e.options is None:
            return getattr(self.get(name), "Options", None) or NoOptions
        e.options = resolve(e.options)
        return e.options

    def extra(self, name: str, key: str) -> Any | None:
        e = self.entry(name)
        if key not in e.extras:
            return None
        e.extras[key] = resolve(e.extras[key])
        return e.extras[key]

    def validate_options(self, name: str, options: dict[str, Any], where: str) -> BaseModel:
        """Options dict -> the entry's options model; errors name `where` (file + dotted key) and the valid keys."""
        cls = self.options_class(name)
        try:
            return cls.model_validate(options or {})
        except ValidationError as err:
            valid = ", ".join(cls.model_fields) or "(none)"
            lines = [
                f"{where}.{'.'.join(str(p) for p in e['loc'])}: "
                f"{'unknown option' if e['type'] == 'extra_forbidden' else e['msg']}"
                for e in err.errors()
            ]
            raise ConfigError("\n".join(lines) + f"\nvalid options of {self.kind} {name!r}: {valid}") from None
