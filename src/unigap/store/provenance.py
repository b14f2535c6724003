"""Provenance of a run: what code, packages and machine produced it. Never raises."""

from __future__ import annotations

import platform
import socket
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("torch", "numpy", "transformers", "accelerate", "peft", "datasets")


def _git(args: list[str], cwd: Path) -> str | None:
    """stdout of a git command run in `cwd`, or None if git is missing or fails."""
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_info(package_dir: Path | None = None) -> dict[str, Any]:
    """{"commit", "dirty"} of the git checkout unigap runs from; both None if it is not one.

    The package must be tracked by that checkout (so a site-packages install inside some other
    repository does not report that repository's commit). dirty ignores untracked files.
    """
    pkg = package_dir or Path(__file__).resolve().parents[1]
    if _git(["ls-files", "--error-unmatch", "__init__.py"], pkg) is None:
        return {"commit": None, "dirty": None}
    commit = _git(["rev-parse", "HEAD"], pkg)
    status = _git(["status", "--porcelain", "--untracked-files=no"], pkg)
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed versions (from package metadata, nothing is imported); None when not installed."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def device_info() -> dict[str, Any]:
    """torch's view of the accelerators: cuda available, device count and name, cuda version."""
    try:
        import torch

        cuda = torch.cuda.is_available()
        return {
            "cuda_available": cuda,
            "device_count": torch.cuda.device_count() if cuda else 0,
            "device_name": torch.cuda.get_device_name(0) if cuda else None,
            "cuda_version": torch.version.cuda,
        }
    except Exception as err:  # noqa: BLE001 - provenance must never fail a run
        return {"cuda_available": None, "device_count": None, "device_name": None, "error": repr(err)}


def _unigap_version() -> str:
    import unigap

    return getattr(unigap, "__version__", "unknown")


def provenance(extra: dict | None = None) -> dict[str, Any]:
    """Everything needed to say what produced a run; `extra` (seeds, checkpoint sha256...) is merged in."""
    info: dict[str, Any] = {
        "unigap_version": _unigap_version(),
        **{f"git_{k}": v for k, v in git_info().items()},  # git_commit, git_dirty
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "device": device_info(),
        "hostname": socket.gethostname(),
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return {**info, **(extra or {})}
