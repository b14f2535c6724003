"""Typed configs: pydantic models built key by key from defaults, a YAML file and `key=value` overrides.

The effective config is layered: the command's defaults (the config class's own field defaults,
nested sections included), then the YAML file, then each dotted override, each changing only the
keys it names. Every config class derives from `Config`, which forbids unknown keys, so a typo is
an error naming the key and where it came from (file and line, or the override), never a silently
ignored setting. Lists (e.g. `judges:`) are replaced whole; mappings are merged key by key.

A renamed key (or option value) is still read under its old name, with a `FutureWarning` that names the
new one and where the old one came from: each class lists them in `renamed` (old key -> new key) and
`renamed_values` (key -> {old value: new value}). Stored configs (a run's, a checkpoint's) are compared
after the same renaming (`upgraded`), so a run made before a rename resumes.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from unigap.errors import ConfigError

C = TypeVar("C", bound="Config")


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    renamed: ClassVar[dict[str, str]] = {}  # old key -> new key: the old one is read with a FutureWarning
    renamed_values: ClassVar[dict[str, dict[str, str]]] = {}  # key -> {old value: new value}, likewise

    @model_validator(mode="before")
    @classmethod
    def _accept_old_names(cls, data: Any) -> Any:
        """Python callers (`ImproveConfig(batch_size=8)`): the old names, with the warning."""
        if isinstance(data, dict) and (cls.renamed or cls.renamed_values):
            data = dict(data)
            rename_section(cls, data, lambda key: cls.__name__)
        return data


Where = Callable[[str], str]  # a key (dotted from the config's root) -> where it was given ("FILE:LINE", ...)


def rename_section(cls: type[Config], data: dict, where: Where | None, prefix: str = "") -> list[tuple[str, str]]:
    """Rename, in place, the old keys and values of one section of `cls`; warn naming `where(old key)`
    (None: silently). Returns the (old, new) dotted keys renamed."""
    moved = []
    for old, new in cls.renamed.items():
        if old not in data:
            continue
        if new in data:
            at = where(prefix + old) if where else cls.__name__
            raise ConfigError(
                f"{at}: {prefix + old!r} and {prefix + new!r} are both given; {old!r} is the old name "
                f"of {new!r}: keep only {prefix + new!r}"
            )
        data[new] = data.pop(old)
        moved.append((prefix + old, prefix + new))
        if where:
            _deprecated(f"{where(prefix + old)}: key {prefix + old!r} is now {prefix + new!r}")
    for key, values in cls.renamed_values.items():
        value = data.get(key)
        if isinstance(value, str) and value in values:
            data[key] = values[value]
            if where:
                _deprecated(f"{where(prefix + key)}: {prefix + key}: {value!r} is now {values[value]!r}")
    return moved


def _deprecated(message: str) -> None:
    warnings.warn(
        f"{message} (the old name still works, for now; a later unigap will refuse it)", FutureWarning, stacklevel=4
    )


def upgrade(cls: type[BaseModel], data: dict, where: Where | None = None, prefix: str = "") -> list[tuple[str, str]]:
    """Rename, in place, the old keys and values of `cls` and of every section below it in `data` (a YAML
    layer, a stored config); warn naming `where(old key)` (None: silently). Returns the (old, new) dotted keys."""
    moved = rename_section(cls, data, where, prefix) if issubclass(cls, Config) else []
    for name, field in cls.model_fields.items():
        subs = _config_types(field.annotation)
        value = data.get(name)
        if not subs:
            continue
        items = [value] if isinstance(value, dict) else value if isinstance(value, list) else []
        for i, item in enumerate(items):
            if isinstance(item, dict):
                at = f"{prefix}{name}." if isinstance(value, dict) else f"{prefix}{name}[{i}]."
                moved += upgrade(subs[0], item, where, at)
    return moved


def upgraded(cls: type[BaseModel] | None, data: Any) -> Any:
    """A stored config as it reads today: a copy with the renamed keys and values of config class `cls`
    under their new names (`cls` None: `data` itself)."""
    if cls is None or not isinstance(data, dict):
        return data
    data = copy.deepcopy(data)
    upgrade(cls, data)
    return data


def renamed_path(cls: type[BaseModel], path: list[str], where: str) -> list[str]:
    """An override's dotted key with renamed keys under their new names (warning naming `where`)."""
    out: list[str] = []
    for part in path:
        if cls is not None and issubclass(cls, Config) and part in cls.renamed:
            _deprecated(f"{where}: key {'.'.join(out + [part])!r} is now {'.'.join(out + [cls.renamed[part]])!r}")
            part = cls.renamed[part]
        out.append(part)
        field = cls.model_fields.get(part) if cls is not None else None
        subs = _config_types(field.annotation) if field is not None else []
        cls = subs[0] if subs else None
    return out


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


def apply_overrides(
    data: dict, overrides: list[str], origins: Origins | None = None, cls: type[BaseModel] | None = None
) -> dict:
    for item in overrides:
        path, value = parse_override(item)
        if cls is not None:
            path = renamed_path(cls, path, f"override {item!r}")
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
    origins = Origins(
        " + ".join([str(path)] * bool(path) + [f"override {o!r}" for o in overrides or []]) or "<defaults>"
    )
    data = cls().model_dump(mode="json")
    if path:
        layer = read_yaml(path)  # first: it names a missing or unreadable file
        lines = key_lines(path)
        for old, new in upgrade(cls, layer, lambda k: f"{path}:{lines[k]}" if k in lines else str(path)):
            lines.update(
                {new + k[len(old) :]: n for k, n in list(lines.items()) if k == old or k.startswith(old + ".")}
            )
        merge(data, layer, origins, lambda k: f"{path}:{lines[k]}" if k in lines else str(path))
    apply_overrides(data, overrides or [], origins, cls)
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


def diff_keys(old: dict, new: dict, defaults: dict | None = None, cls: type[BaseModel] | None = None) -> list[str]:
    """Dotted keys whose values differ between two config dicts. With `defaults` (the config class's
    own values), a key the old config lacks is no difference while the new one holds its default:
    an option added by a newer unigap, left unset, does not make a stored run "another config".
    With `cls`, the old config is read as today (`upgraded`): a key renamed since is no difference."""
    a, b, d = flatten(upgraded(cls, old) if cls else old), flatten(new), flatten(defaults or {})
    added_at_default = {k for k in set(b) - set(a) if k in d and b[k] == d[k]}
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k not in added_at_default)


def defaults_json(cfg: BaseModel) -> dict | None:
    """The JSON form of `cfg`'s class with every field at its default (None if a field is required)."""
    try:
        return type(cfg)().model_dump(mode="json")
    except ValidationError:
        return None
