"""Installing a throwaway plugin package for a test: a module and its dist-info on sys.path."""

from __future__ import annotations

from pathlib import Path


def install(site: Path, dist: str, module: str, code: str, entry_points: str, monkeypatch) -> Path:
    """`module`.py and a dist-info with these entry points in `site`, put on sys.path; the registries are
    restored after the test."""
    from unigap.judges.base import JUDGES
    from unigap.models.base import MODELS
    from unigap.prompts.base import SUITES
    from unigap.training.anchor import UND_SETS

    (site / f"{dist}-0.1.dist-info").mkdir(parents=True)
    (site / f"{module}.py").write_text(code)
    (site / f"{dist}-0.1.dist-info" / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist.replace('_', '-')}\nVersion: 0.1\n"
    )
    (site / f"{dist}-0.1.dist-info" / "entry_points.txt").write_text(entry_points)
    monkeypatch.syspath_prepend(str(site))
    for registry in (MODELS, JUDGES, SUITES, UND_SETS):
        monkeypatch.setattr(registry, "_entries", dict(registry._entries))
        monkeypatch.setattr(registry, "_plugins_loaded", False)
    return site
