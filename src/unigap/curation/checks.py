"""What `unigap curate` checks before it writes anything."""

from __future__ import annotations

from pathlib import Path

from unigap.curation.curate import CurateConfig
from unigap.errors import ConfigError, UnigapError
from unigap.store import DB_NAME, RunStore


def check_curation(run_dir: str | Path, out: str | Path, cfg: CurateConfig, allow_partial: bool = False) -> None:
    """The run exists, its audit finished (or allow_partial) and it holds the selector's verdicts on
    `cfg.source`; --out is not a file."""
    run_dir, out = Path(run_dir), Path(out)
    if not (run_dir / DB_NAME).is_file():
        raise UnigapError(f"{run_dir} is not a run directory (no {DB_NAME}); audit first: unigap audit --out {run_dir}")
    if out.exists() and not out.is_dir():
        raise UnigapError(f"--out {out} is a file, not a data directory; choose another --out")
    from unigap.store.complete import require_finished_audit

    with RunStore.open(run_dir, create=False) as store:
        require_finished_audit(store, run_dir, cfg.source, allow_partial, "curate")
        judges = store.judges()
        if not store.candidates(source=cfg.source):
            raise ConfigError(f"source: run {run_dir} has no candidates of source {cfg.source!r}")
    if cfg.selector not in judges:
        raise ConfigError(
            f"selector: {cfg.selector!r} has no verdicts in {run_dir}; stored judges: {', '.join(judges) or 'none'}"
        )
