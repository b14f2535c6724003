"""Errors that carry a user-facing message (file, line, field) and are shown without a traceback."""


class UnigapError(Exception):
    """Base class: the CLI prints str(err) and exits with status 2."""


class ConfigError(UnigapError):
    """A config file or override is invalid (names the file and key)."""


class DataError(UnigapError):
    """An input file is malformed (names the file and line)."""


class CheckpointError(UnigapError):
    """A checkpoint is missing, corrupt, or does not match what was expected."""
