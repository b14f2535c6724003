"""Typed configs: pydantic models built key by key from defaults, a YAML file and `key=value` overrides.

The effective config is layered: the command's defaults (the config class's own field defaults,
nested sections included), then the YAML file, then each dotted override, each changing only the
keys it names. Every config class derives from `Config`, which forbids unknown keys, so a typo is
an error naming the key and where it came from (file and line, or the override), never a silently
ignored setting. Lists (e.g. `judges:`) are replaced whole; mappings are merged key by key.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from unigap.errors import ConfigError

C = TypeVar("C", bound="Config")


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


MAX_SEED = 2**63 - 1  # what torch.manual_seed and numpy's SeedSequence both take


def seed_field(default: int = 0) -> Any:
    """A seed option: 0 <= seed <= 2**63 - 1 (a negative seed used to fail after generation, in the bootstrap)."""
    return Field(default, ge=0, le=MAX_SEED)


class Origins:
    """Where each dotted key of a layered config came from: "<defaults>", "FILE:LINE" or "override K=V"."""

    def __init__(self, root: str = "<defaults>") -> None:
        self._by_key: dict[str, str] = {}
        self.root = root  # what a whole-config error (a cross-key check) is attributed to

    def set(self, key: str, origin: str) -> None:
        self._by_key[key] = origin

    def of(self, key: str) -> str:
        """The origin of `key` or of its nearest named parent."""
        parts = key.split(".")
        for n in range(len(parts), 0, -1):
            origin = self._by_key.get(".".join(parts[:n]))
            if origin:
                return origin
        inside = sorted({o for k, o in self._by_key.items() if k.startswith(key + ".")})  # a section's check
        return " + ".join(inside) if inside else "<defaults>"


def parse_override(item: str) -> tuple[list[str], Any]:
    """`"train.lr=1e-4"` -> (["train", "lr"], 1e-4); the value is parsed as YAML."""
    if "=" not in item or not item.split("=", 1)[0].strip():
        raise ConfigError(f"override {item!r} is not of the form key=value")
    key, raw = item.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as err:
        raise ConfigError(f"override {item!r}: value is not valid YAML: {err}") from None
    return key.strip().split("."), value


def set_path(data: dict, path: list[str], value: Any, what: str) -> None:
    """data[p0][p1]... = value, creating sections; a non-mapping on the way is an error naming `what`."""
    node = data
    for i, part in enumerate(path[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"{what}: {'.'.join(path[: i + 1])!r} is not a section (it holds {child!r})")
        node = child
    node[path[-1]] = value


def merge(base: dict, layer: dict, origins: Origins, origin_of: Any, prefix: str = "") -> dict:
    """Merge `layer` into `base` key by key (mappings recursively; anything else replaces)."""
    for key, value in layer.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value, origins, origin_of, dotted)
        else:
            base[key] = copy.deepcopy(value)
        origins.set(dotted, origin_of(dotted))
    return base


def apply_overrides(data: dict, overrides: list[str], origins: Origins | None = None) -> dict:
    for item in overrides:
        path, value = parse_override(item)
        set_path(data, path, value, f"override {item!r}")
        if origins is not None:
            origins.set(".".join(path), f"override {item!r}")
    return data


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        hint = "" if path.is_absolute() else f" (relative paths are from the current directory, {Path.cwd()})"
        raise ConfigError(f"{path}: config file not found{hint}")
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, not a YAML config file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot be read: {err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys, not {type(data).__name__}")
    return data


def key_lines(path: str | Path) -> dict[str, int]:
    """Dotted key -> 1-based line of a YAML mapping file (for error messages)."""
    lines: dict[str, int] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                dotted = f"{prefix}.{k.value}" if prefix else str(k.value)
                lines[dotted] = k.start_mark.line + 1
                walk(v, dotted)

    try:
        walk(yaml.compose(Path(path).read_text(encoding="utf-8-sig") or "{}"), "")
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        pass
    return lines


def _describe(err: ValidationError, origins: Origins) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<root>"
        where = origins.of(key) if e["loc"] else origins.root
        if not e["loc"]:
            lines.append(f"{where}: {e['msg'].removeprefix('Value error, ')}")
        elif e["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key {key!r}{_valid_keys_hint(err, e['loc'])}")
        else:
            lines.append(f"{where}: key {key!r}: {e['msg']}")
    return "\n".join(lines)


_VALID: dict[tuple, list[str]] = {}


def _valid_keys_hint(err: ValidationError, loc: tuple) -> str:
    valid = _VALID.get(tuple(str(p) for p in loc[:-1]))
    return f" (valid keys: {', '.join(valid)})" if valid else ""


def _index_fields(cls: type[BaseModel], prefix: tuple = ()) -> None:
    """Remember the valid keys of every (nested) section for the unknown-key hint."""
    _VALID[prefix] = list(cls.model_fields)
    for name, field in cls.model_fields.items():
        for sub in _config_types(field.annotation):
            _index_fields(sub, (*prefix, name))


def _config_types(annotation: Any) -> list[type[BaseModel]]:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [t for a in typing.get_args(annotation) for t in _config_types(a)]


def validate(cls: type[C], data: dict, source: str | Origins = "<config>") -> C:
    origins = source if isinstance(source, Origins) else Origins()
    if not isinstance(source, Origins):
        origins.set("", source)
        for k in data:
            origins.set(k, source)
    try:
        return cls.model_validate(data)
    except ValidationError as err:
        _VALID.clear()
        _index_fields(cls)
        raise ConfigError(_describe(err, origins)) from None


def layered(cls: type[C], path: str | Path | None = None, overrides: list[str] | None = None) -> tuple[dict, Origins]:
    """The effective config dict (defaults <- file <- overrides) and where each key came from."""
    origins = Origins(" + ".join([str(path)] * bool(path) + [f"override {o!r}" for o in overrides or []]) or "<defaults>")
    data = cls().model_dump(mode="json")
    if path:
        layer = read_yaml(path)  # first: it names a missing or unreadable file
        lines = key_lines(path)
        merge(data, layer, origins, lambda k: f"{path}:{lines[k]}" if k in lines else str(path))
    apply_overrides(data, overrides or [], origins)
    return data, origins


def load_config(cls: type[C], path: str | Path | None = None, overrides: list[str] | None = None) -> C:
    """Load `cls` layered from its defaults, a YAML file and dotted overrides (each changes only what it names)."""
    data, origins = layered(cls, path, overrides)
    return validate(cls, data, origins)


def to_yaml(cfg: BaseModel) -> str:
    """The effective config as YAML (what `--dry-run` prints and the store keeps)."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dict -> {"a.b": value}."""
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for k, v in data.items():
        out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def diff_keys(old: dict, new: dict, defaults: dict | None = None) -> list[str]:
    """Dotted keys whose values differ between two config dicts. With `defaults` (the config class's
    own values), a key the old config lacks is no difference while the new one holds its default:
    an option added by a newer unigap, left unset, does not make a stored run "another config"."""
    a, b, d = flatten(old), flatten(new), flatten(defaults or {})
    added_at_default = {k for k in set(b) - set(a) if k in d and b[k] == d[k]}
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k not in added_at_default)


def defaults_json(cfg: BaseModel) -> dict | None:
    """The JSON form of `cfg`'s class with every field at its default (None if a field is required)."""
    try:
        return type(cfg)().model_dump(mode="json")
    except ValidationError:
        return None
