"""The one metric table: every printout (`unigap show`, the `unigap run` table, the report and its
plots) takes its columns, labels, directions and formats from `METRICS`.

A key with `{judge}` is one column per external judge present in the metrics, e.g.
`generation_score/{judge}` -> `generation_score/oracle`, `generation_score/geneval`.

The paper's tables (§5) are `PAPER_CELL` of this table laid out per benchmark (`benchmark_blocks`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from unigap.vocab import BANDS, OVERALL, SOURCE_BASE, SOURCE_IMPROVED

Direction = Literal["higher", "lower", "neutral"]


@dataclass(frozen=True)
class MetricSpec:
    key: str  # metric key in metrics.json; "{judge}" expands per external judge
    label: str  # its full name in a column or row ("{judge}" filled in)
    abbr: str  # its name in printed tables, explained by `legend` (Gen. / Und. / Non. are the paper's)
    name: str  # the glossary's term (docs/glossary.md), for the legend
    direction: Direction  # which way is better
    aggregation: str  # how the value is computed (the legend and the report's definitions)
    fmt: Literal["pct", "score"] = "pct"  # pct: a share, printed x100; score: already in the benchmark's units
    headline: bool = False  # in the before/after tables of `unigap run` and the report
    show: bool = True  # a column of `unigap show` (precision/recall live in the diagnostics instead)

    def pattern(self) -> re.Pattern:
        # a judge's name may hold "/" (http:Qwen/Qwen2.5-VL-72B-Instruct): the rest of the key after the prefix
        return re.compile("^" + re.escape(self.key).replace(re.escape("{judge}"), "(?P<judge>.+)") + "$")


METRICS: list[MetricSpec] = [  # aggregation: one line of an 80-column legend where it can be
    MetricSpec(
        "non_unification",
        "non-unification",
        "Non.",
        "non-unification",
        "lower",
        "share of a model's own images its self-judge rejects",
        headline=True,
    ),
    MetricSpec(
        "generation_score/{judge}",
        "{judge} generation",
        "Ext. gen.",
        "generation score",
        "higher",
        "share of the images the external judge accepts",
        headline=True,
    ),
    MetricSpec(
        "gen/{judge}",
        "{judge} Gen.",
        "Gen.",
        "generation score (Gen.)",
        "higher",
        "the benchmark's own metric x100 (SciScore as is), not a %",
        fmt="score",
        headline=True,
    ),
    MetricSpec(
        "weak_generation/{judge}",
        "{judge} weak generation",
        "Weak gen.",
        "weak generation",
        "neutral",
        "of the images the self-judge rejects, the share the external judge rejects too (above 50 %: the gap "
        "is weak generation, not misunderstanding)",
    ),
    MetricSpec(
        "self_accuracy/{judge}",
        "self-judge accuracy ({judge})",
        "Self acc.",
        "self-judge accuracy",
        "higher",
        "how often it agrees with the external judge",
        headline=True,
    ),
    MetricSpec(
        "self_precision/{judge}",
        "self precision ({judge})",
        "Acc. prec.",
        "acceptance precision",
        "higher",
        "of the images the self-judge accepts, the share the external judge accepts",
        show=False,
    ),
    MetricSpec(
        "self_recall/{judge}",
        "self recall ({judge})",
        "Recall",
        "recall",
        "higher",
        "of the images the external judge accepts, the share the self-judge accepts",
        show=False,
    ),
    MetricSpec(
        "win_rate/{judge}",
        "win rate ({judge} as truth)",
        "Und.",
        "win rate",
        "higher",
        "on the base model's images, where the base and the improved self-judge disagree, the share where "
        "the improved one agrees with the external judge (50 when none, and for the base model)",
        show=False,
    ),
]

PAPER_CELL = ("gen/{judge}", "win_rate/{judge}", "non_unification")  # the paper's Gen. / Und. / Non. (§5)


def spec_of(key: str) -> MetricSpec:
    return next(s for s in METRICS if s.key == key)


@dataclass(frozen=True)
class Column:
    key: str  # the concrete metrics key
    label: str
    spec: MetricSpec
    judge: str | None = None  # the external judge a `{judge}` column is of


def columns(metrics: dict, headline_only: bool = False, shown_only: bool = False) -> list[Column]:
    """The concrete columns present in `metrics`, in table order."""
    out = []
    for spec in METRICS:
        if (headline_only and not spec.headline) or (shown_only and not spec.show):
            continue
        pat = spec.pattern()
        for key in metrics:
            m = pat.match(key)
            if m:
                judge = m.groupdict().get("judge")
                out.append(Column(key, spec.label.format(judge=judge or ""), spec, judge))
    return out


def fmt(entry: dict | None, ci: bool = True, spec: MetricSpec | None = None, digits: int = 1) -> str:
    """A metric entry {value, ci} as "37.6 [33.5, 41.5]" (a share x100, a score as is); "—" when absent."""
    if not entry or entry.get("value") is None:
        return "—"
    k = 1.0 if spec is not None and spec.fmt == "score" else 100.0
    lo_hi = entry.get("ci")
    text = f"{k * entry['value']:.{digits}f}"
    return text + (f" [{k * lo_hi[0]:.{digits}f}, {k * lo_hi[1]:.{digits}f}]" if ci and lo_hi else "")


def cell(entry: dict, group: str) -> dict | None:
    """The entry of one row group: a band name, "overall", or a subtask."""
    if group == OVERALL:
        return entry.get("overall")
    if group in BANDS:
        return entry.get("bands", {}).get(group)
    return entry.get("subtasks", {}).get(group)


@dataclass(frozen=True)
class Change:
    """One row of a before/after table: a headline column in one band (or overall), both sides' entries."""

    column: Column
    group: str  # a band or "overall"
    before: dict | None
    after: dict | None


def before_after_rows(before: dict, after: dict) -> list[Change]:
    """The headline columns before/after, one row per metric and band (metric by metric, bands in order):
    as narrow as two values whatever the number of metrics; used by `unigap run` and the report."""
    rows = []
    for c in columns({**before, **after}, headline_only=True):
        group = [Change(c, g, *[cell(side.get(c.key, {}), g) for side in (before, after)]) for g in (*BANDS, OVERALL)]
        group = [ch for ch in group if any(e and e.get("value") is not None for e in (ch.before, ch.after))]
        if len(group) == 2 and (group[0].before, group[0].after) == (group[1].before, group[1].after):
            group = group[:1]  # a judge of one band (a benchmark's scorer): its overall is that band
        rows += group
    return rows


UNITS = "values in % with one decimal, the 95 % bootstrap CI over prompts in brackets"
VALUES = ("↑ ↓ [ ]", "higher / lower is better; %, with the 95 % bootstrap CI over prompts")


def legend(specs: list[MetricSpec], values: bool = True) -> list[tuple[str, str]]:
    """(abbreviation, definition) of each metric in `specs`, in their order, once each (with `values`, first how
    values are printed): the legend under every printed table (wording as docs/glossary.md)."""
    return ([VALUES] if values else []) + [(s.abbr, f"{s.name}: {s.aggregation}") for s in dict.fromkeys(specs)]


def arrow(spec: MetricSpec) -> str:
    return {"higher": " ↑", "lower": " ↓"}.get(spec.direction, "")


# ---- the paper's tables: one block per benchmark ----------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One benchmark's table: a column per subtask and "Overall", per model the rows Gen. / Und. / Non."""

    benchmark: str
    title: str
    header: list[str]
    rows: list[list[str]]


def benchmark_blocks(sides: dict[str, dict], win_rate: dict | None = None) -> list[Block]:
    """The paper's tables (§5) for the benchmarks of a run, in the order their subtasks appear.

    sides: {model label: audit result (`metrics`, `benchmark_of`)}, e.g. {"base": before, "improved": after};
    win_rate: analysis.json's "win_rate" (truth judge -> result): Und. of the "improved" side, 50 for
    "base" by the paper's convention, "—" without one. Overall = the benchmark level of each metric
    (the unweighted mean of the benchmark's subtasks)."""
    from unigap.judges.scoring import BENCHMARKS

    benchmark_of = {s: b for r in sides.values() for s, b in (r.get("benchmark_of") or {}).items()}
    blocks = []
    for name in dict.fromkeys(benchmark_of.values()):
        bench = BENCHMARKS[name]
        subtasks = [s for s, b in benchmark_of.items() if b == name]
        truth = und_truth(win_rate or {}, bench.scorer, subtasks)
        rows = [row for label, r in sides.items() for row in _side_rows(label, r, bench, subtasks, win_rate, truth)]
        blocks.append(Block(name, _title(bench, truth), ["model", "", *subtasks, "Overall"], rows))
    return blocks


def und_truth(win_rate: dict, scorer: str, subtasks: list[str]) -> str | None:
    """The truth judge of a block's Und.: as the paper (Qwen2.5-VL-72B), a judge other than the benchmark
    scorers when one labelled these subtasks, else the benchmark's own scorer."""
    from unigap.judges.scoring import SCORER_JUDGES

    have = [
        j
        for j, w in win_rate.items()
        if isinstance(w, dict) and "win_rate" in w and any(s in w["win_rate"].get("subtasks", {}) for s in subtasks)
    ]
    others = [j for j in have if j not in SCORER_JUDGES]
    return others[0] if others else (scorer if scorer in have else None)


def _side_rows(
    label: str, result: dict, bench, subtasks: list[str], win_rate: dict | None, truth: str | None
) -> list[list[str]]:
    metrics = result.get("metrics", {})
    und = None
    if truth is not None and label == SOURCE_IMPROVED:
        und = win_rate[truth]["win_rate"]  # type: ignore[index]
    elif truth is not None and label == SOURCE_BASE:
        und = _constant(0.5, subtasks, bench.name)  # the paper's convention for the model before improvement
    values = {
        "gen/{judge}": metrics.get(f"gen/{bench.scorer}"),
        "win_rate/{judge}": und,
        "non_unification": metrics.get("non_unification"),
    }
    rows = []
    for i, key in enumerate(PAPER_CELL):
        spec, entry = spec_of(key), values[key] or {}
        cells = [entry.get("subtasks", {}).get(s) for s in subtasks] + [entry.get("benchmarks", {}).get(bench.name)]
        rows.append([label if i == 0 else "", spec.abbr + arrow(spec), *[fmt(c, False, spec, 2) for c in cells]])
    return rows


def _constant(value: float, subtasks: list[str], benchmark: str) -> dict:
    e = {"value": value}
    return {"subtasks": {s: e for s in subtasks}, "benchmarks": {benchmark: e}}


def _title(bench, truth: str | None) -> str:
    und = f"win rate against {truth}" if truth else "win rate (after self-improvement)"
    return f"{bench.title} (the paper's table): Gen. = {bench.gen}; Und. = {und}"


BLOCK_NOTES = [
    ("Overall", "the unweighted mean of the benchmark's subtasks"),
    ("units", "Und. and Non. in %, Gen. in the benchmark's unit, two decimals as in the paper"),
]


def block_legend() -> list[tuple[str, str]]:
    """The legend under the paper's tables: Gen., Und., Non., Overall, the units."""
    return legend([spec_of(k) for k in PAPER_CELL], values=False) + BLOCK_NOTES
