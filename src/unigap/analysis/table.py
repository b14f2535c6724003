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
    label: str  # column label ("{judge}" filled in)
    direction: Direction  # which way is better
    aggregation: str  # how the value is computed (shown in the report's legend)
    fmt: Literal["pct", "score"] = "pct"  # pct: a share, printed x100; score: already in the benchmark's units
    headline: bool = False  # in the before/after tables of `unigap run` and the report
    show: bool = True  # a column of `unigap show` (precision/recall live in the diagnostics instead)
    short: str = ""  # its column name in the paper's tables (Gen. / Und. / Non.)

    def pattern(self) -> re.Pattern:
        return re.compile("^" + re.escape(self.key).replace(re.escape("{judge}"), "(?P<judge>[^/]+)") + "$")


METRICS: list[MetricSpec] = [
    MetricSpec("non_unification", "non-unification", "lower",
               "share of candidates the model's own understanding rejects; mean over prompts", headline=True,
               short="Non."),
    MetricSpec("generation_score/{judge}", "{judge} generation", "higher",
               "share of candidates the external judge accepts; mean over prompts", headline=True),
    MetricSpec("gen/{judge}", "{judge} Gen.", "higher",
               "mean benchmark score of the candidates (x100; SciScore as is), the paper's Gen.; mean over prompts",
               fmt="score", headline=True, short="Gen."),
    MetricSpec("weak_generation/{judge}", "{judge} weak gen.", "neutral",
               "P(external rejects | self rejects): > 50 % = the gap is weak generation"),
    MetricSpec("self_accuracy/{judge}", "self-judge acc. ({judge})", "higher",
               "self verdict = external verdict, over candidates both judged", headline=True),
    MetricSpec("self_precision/{judge}", "self precision ({judge})", "higher",
               "P(external accepts | self accepts): the acceptance precision of the self-judge as a selector",
               show=False),
    MetricSpec("self_recall/{judge}", "self recall ({judge})", "higher", "P(self accepts | external accepts)", show=False),
    MetricSpec("win_rate/{judge}", "win rate ({judge} as truth)", "higher",
               "on the base images, among base/improved self-judge disagreements, the share where the improved one "
               "agrees with the truth judge (50 when none; the base model's row is 50 by convention)",
               show=False, short="Und."),
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


def before_after_rows(before: dict, after: dict) -> tuple[list[str], list[list[str]]]:
    """Headline columns before/after per band: (header, rows); used by `unigap run` and the report."""
    cols = columns({**before, **after}, headline_only=True)
    header = ["band"] + [f"{c.label} {side}" for c in cols for side in ("before", "after")]
    rows = []
    for group in (*BANDS, OVERALL):
        cells = [fmt(cell(side.get(c.key, {}), group), spec=c.spec) for c in cols for side in (before, after)]
        if any(x != "—" for x in cells):
            rows.append([group, *cells])
    return header, rows


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

    have = [j for j, w in win_rate.items() if isinstance(w, dict) and "win_rate" in w
            and any(s in w["win_rate"].get("subtasks", {}) for s in subtasks)]
    others = [j for j in have if j not in SCORER_JUDGES]
    return others[0] if others else (scorer if scorer in have else None)


def _side_rows(label: str, result: dict, bench, subtasks: list[str], win_rate: dict | None,
               truth: str | None) -> list[list[str]]:
    metrics = result.get("metrics", {})
    und = None
    if truth is not None and label == SOURCE_IMPROVED:
        und = win_rate[truth]["win_rate"]  # type: ignore[index]
    elif truth is not None and label == SOURCE_BASE:
        und = _constant(0.5, subtasks, bench.name)  # the paper's convention for the model before improvement
    values = {"gen/{judge}": metrics.get(f"gen/{bench.scorer}"), "win_rate/{judge}": und,
              "non_unification": metrics.get("non_unification")}
    rows = []
    for i, key in enumerate(PAPER_CELL):
        spec, entry = spec_of(key), values[key] or {}
        cells = [entry.get("subtasks", {}).get(s) for s in subtasks] + [entry.get("benchmarks", {}).get(bench.name)]
        rows.append([label if i == 0 else "", spec.short + arrow(spec), *[fmt(c, False, spec, 2) for c in cells]])
    return rows


def _constant(value: float, subtasks: list[str], benchmark: str) -> dict:
    e = {"value": value}
    return {"subtasks": {s: e for s in subtasks}, "benchmarks": {benchmark: e}}


def _title(bench, truth: str | None) -> str:
    und = f"win rate (%) against {truth}" if truth else "win rate (%), after self-improvement"
    return (f"{bench.title}: Gen. = {bench.gen}, Und. = {und}, Non. = non-unification (%); "
            "Overall = unweighted mean of the subtasks")
