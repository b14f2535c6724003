"""Errors that carry a user-facing message (file, line, field) and are shown without a traceback."""


class UnigapError(Exception):
    """Base class: the CLI prints str(err) and exits with status 2."""


class ConfigError(UnigapError):
    """A config file or override is invalid (names the file and key)."""


class DataError(UnigapError):
    """An input file is malformed (names the file and line)."""


class CheckpointError(UnigapError):
    """A checkpoint is missing, corrupt, or does not match what was expected."""


class MissingExtra(UnigapError):
    """An optional dependency is not installed; the message names the extra that brings it."""


def require(module: str, extra: str = "hf", why: str = "") -> object:
    """Import an optional dependency, or raise MissingExtra naming `pip install 'unigap[EXTRA]'`."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name is None or not module.startswith(err.name.split(".")[0]):
            raise
        need = f" ({why})" if why else ""
        raise MissingExtra(f"{module} is not installed{need}: pip install 'unigap[{extra}]'") from None
