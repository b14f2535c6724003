"""`unigap agree RUN_DIR`: agreement (Cohen's kappa, confusion) between every pair of judges."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unigap.cli._common import out, write_json
from unigap.cli.show import Col, Fitted


def _num(x: float, fmt: str = "{:.3f}") -> str:
    """A number, "—" for NaN, never a negative zero ("-0.00")."""
    if x != x:
        return "—"
    text = fmt.format(x)
    return text[1:] if text.startswith("-") and not any(c in "123456789" for c in text) else text


def pairs_table(pairs: list, n_boot: int) -> Fitted:
    """One row per judge pair (A over B); the confusion counts (A's verdict, B's verdict) as a 2 x 2 block;
    excl.: candidates both judged where one has no verdict (unparsed/failed)."""
    rows = []
    for p in pairs:
        ci = f" [{_num(p.ci[0], '{:.2f}')}, {_num(p.ci[1], '{:.2f}')}]" if p.ci else ""
        rows.append(
            [
                f"{p.a}\nvs {p.b}",
                str(p.n),
                _num(100 * p.agreement, "{:.1f}"),
                _num(p.kappa) + ci,
                _confusion(p.confusion),
                str(p.excluded),
            ]
        )
    cols = [
        Col("judges\n(A vs B)", "left", wrap=True),
        Col("n"),
        Col("agree"),
        Col("kappa [95 % CI]"),
        Col("confusion"),
        Col("excl."),
    ]
    legend = [
        ("n", "candidates both judges judged"),
        ("agree", "share of them with the same verdict, in %"),
        (
            "kappa",
            f"Cohen's kappa: agreement beyond chance (1 = always, 0 = as by chance); 95 % CI from {n_boot} "
            "bootstrap resamples of items",
        ),
        ("confusion", "candidates by A's verdict (rows 0, 1) and B's verdict (columns 0, 1)"),
        ("excl.", "candidates both judged where one has no verdict (unparsed or failed)"),
    ]
    return Fitted("judge agreement", cols, rows, legend=legend)


def _confusion(counts: list[list[int]]) -> str:
    w = max(len(str(c)) for row in counts for c in row)
    return "\n".join(" ".join(f"{c:>{w}}" for c in row) for row in counts)


def print_status(status: dict[str, dict[str, int]]) -> None:
    for judge, c in status.items():
        out.print(
            f"{judge}: {sum(c.values())} verdicts stored, {c.get('ok', 0)} ok, "
            f"{c.get('unparsed', 0)} unparsed, {c.get('failed', 0)} failed"
        )


def agree_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory with verdicts by at least two judges")],
    judge: Annotated[
        list[str] | None, typer.Option("--judge", "-j", help="Judges to compare (repeat; default: all)")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Only candidates of this source (e.g. base, improved)")] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap resamples for the kappa CI")] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed")] = 0,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the table as JSON here")] = None,
) -> None:
    """How far the judges of a run agree (Cohen's kappa with CIs, confusion) on the candidates both judged;
    unparsed/failed ones are excluded and counted.

    Example: unigap agree runs/audit
    """
    from unigap.analysis.agreement import run_agreement

    result = run_agreement(str(run_dir), source=source, judges=judge, n_boot=n_boot, seed=seed)
    out.print(pairs_table(result["pairs"], n_boot))
    print_status(result["status"])
    if json_out:
        write_json(
            json_out,
            {
                "pairs": [p.as_dict() for p in result["pairs"]],
                "status": result["status"],
                "source": source,
                "n_boot": n_boot,
                "seed": seed,
            },
        )
        out.print(f"wrote {json_out}")


def register(app: typer.Typer) -> None:
    app.command("agree")(agree_cmd)
