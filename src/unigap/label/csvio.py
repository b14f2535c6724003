"""Human labels as CSV, for labelling outside the page (a spreadsheet, another tool).

Export writes one row per candidate: candidate_id, prompt_id, prompt, subtask, band, source, idx,
image (absolute path of the PNG), one column per existing human labeller (human:<name>: 1/0/blank)
and an empty `label` column to fill in with 1 (matches), 0 (does not match) or nothing (skip).
Import checks every row first (columns, ids, labels, duplicates, conflicts with stored labels) and
reports all problems with line numbers; only a file without problems is stored, in one transaction.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from unigap.errors import DataError
from unigap.files import write_text
from unigap.label import HUMAN_PREFIX, HUMAN_RAW
from unigap.label.sampling import judge_name, sample_candidates
from unigap.records import Judgment
from unigap.store import Candidate, RunStore

BASE_COLUMNS = ["candidate_id", "prompt_id", "prompt", "subtask", "band", "source", "idx", "image"]
REQUIRED = ("candidate_id", "label")
LABELS = {"1": 1, "0": 0}
MAX_SHOWN = 20  # problems listed in one error message
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str | None) -> str:
    """Free text for a spreadsheet: a leading = + - @ would run as a formula, so quote it with '."""
    text = text or ""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _human_labels(store: RunStore) -> dict[str, dict[int, int | None]]:
    """{judge: {candidate_id: verdict}} of every human labeller in the run."""
    labels: dict[str, dict[int, int | None]] = {}
    for r in store.judgments():
        if r.judge.startswith(HUMAN_PREFIX):
            labels.setdefault(r.judge, {})[r.candidate_id] = r.verdict
    return labels


def export_csv(
    run_dir: str | Path, out: str | Path, sample: int | None = None, seed: int = 0, source: str | None = None
) -> int:
    """Write the (sampled) candidates of a run to `out`; returns the number of rows."""
    with RunStore.open(run_dir, create=False) as store:
        cands = store.candidates(source=source)
        cands = sample_candidates(cands, sample, seed) if sample is not None else cands
        prompts, humans = {p.id: p for p in store.prompts()}, _human_labels(store)
        rows = [_export_row(store, c, prompts[c.prompt_id], humans) for c in cands]
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow([*BASE_COLUMNS, *humans, "label"])
    writer.writerows(rows)
    write_text(out, buf.getvalue())  # whole or not at all
    return len(rows)


def _export_row(store: RunStore, c: Candidate, prompt, humans: dict[str, dict[int, int | None]]) -> list:
    image = store.image_path(c.png).resolve()
    base = [c.id, c.prompt_id, _cell(prompt.text), prompt.subtask, prompt.band or "", c.source, c.idx, image]
    return [*base, *(_verdict_cell(labels.get(c.id)) for labels in humans.values()), ""]


def _verdict_cell(verdict: int | None) -> str:
    return "" if verdict is None else str(verdict)


@dataclass
class ImportPlan:
    """What a checked file would store: new labels, unchanged ones, blank rows, and the problems found."""

    new: list[tuple[int, int]] = field(default_factory=list)
    unchanged: int = 0
    blank: int = 0
    problems: list[str] = field(default_factory=list)


def read_rows(path: str | Path) -> list[tuple[int, dict]]:
    """(line number, row) of a labels CSV; DataError if it cannot be read or lacks a required column."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: spreadsheets often write a BOM
            reader = csv.DictReader(f)
            _check_header(path, reader.fieldnames)
            return [(reader.line_num, row) for row in reader]
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start}); save it as UTF-8 CSV") from None
    except csv.Error as err:
        raise DataError(f"{path}: line {reader.line_num}: not valid CSV: {err}") from None


def _check_header(path: str | Path, header: list[str] | None) -> None:
    if not header:
        raise DataError(f"{path}: line 1: empty file; expected a header with columns {', '.join(REQUIRED)}")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise DataError(
            f"{path}: line 1: missing column(s) {', '.join(missing)}; the header has "
            f"{', '.join(repr(h) for h in header)}"
        )


def plan_import(store: RunStore, judge: str, rows: list[tuple[int, dict]], replace: bool = False) -> ImportPlan:
    """Check every row against the store; what would be stored, and every problem with its line."""
    known = {c.id for c in store.candidates()}
    stored = {r.candidate_id: r.verdict for r in store.judgments(judge=judge)}
    plan, seen = ImportPlan(), {}
    for line, row in rows:
        if all(not (v or "").strip() for k, v in row.items() if k is not None) and None not in row:
            continue  # a row of empty cells, as spreadsheets write below the data
        problem = _row_problem(row, known, seen, line)
        if problem:
            plan.problems.append(f"line {line}: {problem}")
            continue
        cid, verdict = int(row["candidate_id"].strip()), LABELS.get(row["label"].strip())
        seen[cid] = line
        _plan_row(plan, judge, cid, verdict, stored, replace, line)
    return plan


def _row_problem(row: dict, known: set[int], seen: dict[int, int], line: int) -> str | None:
    """Why a row cannot be imported, or None."""
    header = [k for k in row if k is not None]
    n = sum(row[k] is not None for k in header) + len(row.get(None) or [])
    if n != len(header):
        return f"{n} field{'' if n == 1 else 's'}, but the header has {len(header)}"
    text = row["candidate_id"].strip()
    if not text.lstrip("-").isdigit():
        return f"candidate_id {text!r} is not an integer"
    if int(text) not in known:
        return f"unknown candidate id {int(text)} (no such candidate in this run)"
    if int(text) in seen:
        return f"candidate {int(text)} appears again (first on line {seen[int(text)]})"
    label = row["label"].strip()
    if label and label not in LABELS:
        return f"label {row['label']!r} must be 1 (matches), 0 (does not match) or blank (not labelled)"
    return None


def _plan_row(
    plan: ImportPlan, judge: str, cid: int, verdict: int | None, stored: dict, replace: bool, line: int
) -> None:
    if verdict is None:
        plan.blank += 1
    elif cid in stored and stored[cid] == verdict:
        plan.unchanged += 1
    elif cid in stored and not replace:
        plan.problems.append(
            f"line {line}: candidate {cid} is already labelled {_verdict_cell(stored[cid]) or 'blank'} "
            f"by {judge}; pass --replace to overwrite stored labels"
        )
    else:
        plan.new.append((cid, verdict))


def import_csv(run_dir: str | Path, path: str | Path, name: str, replace: bool = False) -> dict:
    """Store the labels of a CSV as judge human:<name>: all of them in one transaction, or none."""
    judge, rows = judge_name(name), read_rows(path)
    with RunStore.open(run_dir, create=False) as store:
        plan = plan_import(store, judge, rows, replace)
        if plan.problems:
            raise DataError(_problems_message(path, plan.problems))
        store.add_judgments(judge, [(cid, Judgment(v, None, HUMAN_RAW)) for cid, v in plan.new], replace=replace)
    return {
        "judge": judge,
        "rows": len(rows),
        "imported": len(plan.new),
        "unchanged": plan.unchanged,
        "blank": plan.blank,
    }


def _problems_message(path: str | Path, problems: list[str]) -> str:
    shown = "\n".join(f"  {p}" for p in problems[:MAX_SHOWN])
    more = f"\n  ... and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
    return f"{path}: {len(problems)} bad row(s); nothing was imported. Fix them and import again:\n{shown}{more}"
