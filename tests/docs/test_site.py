"""The documentation site builds with `mkdocs build --strict`: no broken link, anchor or page."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def require_mkdocs() -> None:
    wanted = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers")
    missing = [m for m in wanted if importlib.util.find_spec(m) is None]
    if not missing:
        return
    why = f"{', '.join(missing)} not installed: pip install -e '.[docs]' (make install does)"
    if os.environ.get("CI") == "true":
        pytest.fail(why)  # CI installs the docs extra; a skip there would hide a broken site
    pytest.skip(why)


def test_mkdocs_build_strict(tmp_path):
    require_mkdocs()
    env = {
        **os.environ,
        "NO_MKDOCS_2_WARNING": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    site = tmp_path / "site"
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"), "-d", str(site)]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / "configuration" / "index.html").is_file()
