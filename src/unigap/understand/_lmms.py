"""Import guard for the optional lmms-eval dependency."""

from __future__ import annotations

import importlib
from types import ModuleType

from unigap.errors import MissingExtra

INSTALL_HINT = (
    "pip install 'unigap[eval]' (beside a CPU torch without a matching torchvision: "
    "`make install-eval`, which installs lmms-eval==0.7.3 with --no-deps plus what its evaluator imports)"
)


class EvalExtraMissing(MissingExtra):
    """lmms-eval (the `eval` extra) is not installed or does not import."""


def require_lmms_eval() -> ModuleType:
    """The lmms_eval package, or an error naming the `unigap[eval]` extra."""
    try:
        return importlib.import_module("lmms_eval")
    except ImportError as err:
        raise EvalExtraMissing(
            f"understanding benchmarks need lmms-eval ({err}); install it with {INSTALL_HINT}"
        ) from err


def lmms_eval_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lmms_eval")
    except PackageNotFoundError:
        return "unknown"
