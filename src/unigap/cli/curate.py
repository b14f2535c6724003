"""`unigap curate`: a run's verdicts -> SFT data, DPO pairs and a discard pool (parquet)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from unigap.cli._common import AllowPartial, DryRun, out, print_config


def counts_table(manifest: dict) -> Table:
    table = Table(title=f"curation (selector {manifest['curate']['selector']}, rule {manifest['curate']['rule']})")
    cols = ["prompts", "candidates", "accepted", "sft", "pairs", "discard"]
    table.add_column("subtask")
    for c in cols:
        table.add_column(c, justify="right")
    for sub, c in manifest["counts"].items():
        table.add_row(sub, *[str(c[k]) for k in cols])
    total = {k: sum(c[k] for c in manifest["counts"].values()) for k in cols}
    table.add_row("[bold]total[/bold]", *[str(total[k]) for k in cols])
    return table


def curate_cmd(
    run_dir: Annotated[Path, typer.Argument(help="An audited run directory")],
    out_dir: Annotated[Path, typer.Option("--out", help="Data directory to write")],
    config: Annotated[Path | None, typer.Option(help="YAML with selector/rule/pairs_per_prompt/source")] = None,
    overrides: Annotated[
        list[str] | None, typer.Argument(help="key=value, e.g. rule=all_accepted selector=oracle")
    ] = None,
    dry_run: DryRun = False,
    allow_partial: AllowPartial = False,
) -> None:
    """Turn an audit into training data: accepted images (SFT), accepted/rejected pairs (DPO), a discard pool.

    Writes sft.parquet, dpo.parquet, discard.parquet (loadable with `datasets`) and manifest.json.
    Example: unigap curate runs/audit --out runs/audit/data rule=all_accepted
    """
    from unigap.config import load_config
    from unigap.curation.checks import check_curation
    from unigap.curation.curate import CurateConfig
    from unigap.curation.dataset import write_curation

    cfg = load_config(CurateConfig, config, overrides or [])
    check_curation(run_dir, out_dir, cfg, allow_partial)
    if dry_run:
        print_config(cfg)
        out.print(f"valid; nothing written (would write {out_dir})")
        return
    manifest = write_curation(run_dir, out_dir, cfg, allow_partial)
    out.print(counts_table(manifest))
    if manifest.get("partial"):
        out.print(f"[yellow]partial:[/yellow] curated from an unfinished audit ({manifest['partial']})")
    out.print(f"wrote {out_dir}")


def register(app: typer.Typer) -> None:
    app.command("curate")(curate_cmd)
