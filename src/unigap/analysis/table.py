"""The one metric table: every printout (`unigap show`, the `unigap run` table, the report and its
plots) takes its columns, labels, directions and formats from `METRICS`.

A key with `{judge}` is one column per external judge present in the metrics, e.g.
`generation_score/{judge}` -> `generation_score/oracle`, `generation_score/geneval`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from unigap.vocab import BANDS, OVERALL

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

    def pattern(self) -> re.Pattern:
        return re.compile("^" + re.escape(self.key).replace(re.escape("{judge}"), "(?P<judge>[^/]+)") + "$")


METRICS: list[MetricSpec] = [
    MetricSpec("non_unification", "non-unification", "lower",
               "share of candidates the model's own understanding rejects; mean over prompts", headline=True),
    MetricSpec("generation_score/{judge}", "{judge} generation", "higher",
               "share of candidates the external judge accepts; mean over prompts", headline=True),
    MetricSpec("gen/{judge}", "{judge} Gen.", "higher",
               "mean benchmark score of the candidates (x100; SciScore as is), the paper's Gen.; mean over prompts",
               fmt="score", headline=True),
    MetricSpec("weak_generation/{judge}", "{judge} weak gen.", "neutral",
               "P(external rejects | self rejects): > 50 % = the gap is weak generation"),
    MetricSpec("self_accuracy/{judge}", "self-judge acc. ({judge})", "higher",
               "self verdict = external verdict, over candidates both judged", headline=True),
    MetricSpec("self_precision/{judge}", "self precision ({judge})", "higher",
               "P(external accepts | self accepts): the acceptance precision of the self-judge as a selector",
               show=False),
    MetricSpec("self_recall/{judge}", "self recall ({judge})", "higher", "P(self accepts | external accepts)", show=False),
]


@dataclass(frozen=True)
class Column:
    key: str  # the concrete metrics key
    label: str
    spec: MetricSpec


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
                out.append(Column(key, spec.label.format(judge=m.groupdict().get("judge", "")), spec))
    return out


def fmt(entry: dict | None, ci: bool = True, spec: MetricSpec | None = None) -> str:
    """A metric entry {value, ci} as "37.6 [33.5, 41.5]" (a share x100, a score as is); "—" when absent."""
    if not entry or entry.get("value") is None:
        return "—"
    k = 1.0 if spec is not None and spec.fmt == "score" else 100.0
    lo_hi = entry.get("ci")
    text = f"{k * entry['value']:.1f}"
    return text + (f" [{k * lo_hi[0]:.1f}, {k * lo_hi[1]:.1f}]" if ci and lo_hi else "")


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
