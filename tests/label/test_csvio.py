"""CSV export and all-or-nothing import of human labels."""

from __future__ import annotations

import csv

import pytest

from tests.label.label_helpers import SCRIPT_PROMPT, labels, make_run
from unigap.errors import DataError
from unigap.label.csvio import export_csv, import_csv
from unigap.label.session import LabelSession
from unigap.store import RunStore


@pytest.fixture
def run(tmp_path):
    ids = make_run(tmp_path / "run", n_prompts=3)
    return tmp_path / "run", ids


def _read(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _write(path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows])


def test_export_has_prompts_images_and_existing_human_labels(run, tmp_path):
    path, ids = run
    with RunStore.open(path, create=False) as store:
        LabelSession.open(store, "alice").label(ids[0], 1)
    n = export_csv(path, tmp_path / "out" / "labels.csv")
    rows = _read(tmp_path / "out" / "labels.csv")
    assert n == len(rows) == len(ids)
    assert list(rows[0]) == [
        "candidate_id",
        "prompt_id",
        "prompt",
        "subtask",
        "band",
        "source",
        "idx",
        "image",
        "human:alice",
        "label",
    ]
    by_id = {int(r["candidate_id"]): r for r in rows}
    assert by_id[ids[0]]["human:alice"] == "1" and by_id[ids[1]]["human:alice"] == ""
    assert all(r["label"] == "" for r in rows)
    assert SCRIPT_PROMPT in {r["prompt"] for r in rows}
    assert '\'=1+2 a green triangle, "quoted"' in {r["prompt"] for r in rows}  # no spreadsheet formula
    with RunStore.open(path, create=False) as store:
        assert by_id[ids[2]]["image"] == str(store.image_path(store.candidate(ids[2]).png).resolve())
    assert export_csv(path, tmp_path / "s.csv", sample=2, seed=1) == 2


def test_import_stores_labels_in_one_go(run, tmp_path):
    path, ids = run
    export_csv(path, tmp_path / "l.csv")
    rows = _read(tmp_path / "l.csv")
    for r, label in zip(rows, ["1", "0", "", " 1 "]):
        r["label"] = label
    _write(tmp_path / "l.csv", list(rows[0]), [list(r.values()) for r in rows])
    res = import_csv(path, tmp_path / "l.csv", "bob")
    assert (res["imported"], res["blank"], res["judge"]) == (3, len(ids) - 3, "human:bob")
    expected = {int(r["candidate_id"]): int(r["label"]) for r in rows if r["label"].strip()}
    assert labels(path, "human:bob") == expected
    again = import_csv(path, tmp_path / "l.csv", "bob")  # idempotent
    assert (again["imported"], again["unchanged"]) == (0, 3)


def test_minimal_file_with_bom_and_empty_rows(run, tmp_path):
    path, ids = run
    (tmp_path / "m.csv").write_text(f"\ufefflabel,candidate_id\n0,{ids[1]}\n,\n", encoding="utf-8")
    assert import_csv(path, tmp_path / "m.csv", "carol")["imported"] == 1
    assert labels(path, "human:carol") == {ids[1]: 0}


def test_any_bad_row_imports_nothing_and_names_every_line(run, tmp_path):
    path, ids = run
    rows = [[ids[0], "1"], [99999, "1"], ["x7", "0"], [ids[1], "yes"], [ids[2], "0", "extra"], [ids[0], "0"], [ids[3]]]
    _write(tmp_path / "bad.csv", ["candidate_id", "label"], rows)
    with pytest.raises(DataError) as err:
        import_csv(path, tmp_path / "bad.csv", "dave")
    msg = str(err.value)
    assert "6 bad row(s); nothing was imported" in msg
    for expected in (
        "line 3: unknown candidate id 99999",
        "line 4: candidate_id 'x7' is not an integer",
        "line 5: label 'yes' must be 1",
        "line 6: 3 fields, but the header has 2",
        f"line 7: candidate {ids[0]} appears again (first on line 2)",
        "line 8: 1 field, but",
    ):
        assert expected in msg, expected
    assert labels(path, "human:dave") == {}


def test_missing_columns_and_conflicts_with_stored_labels(run, tmp_path):
    path, ids = run
    _write(tmp_path / "nolabel.csv", ["candidate_id", "verdict"], [[ids[0], "1"]])
    with pytest.raises(DataError, match=r"line 1: missing column\(s\) label"):
        import_csv(path, tmp_path / "nolabel.csv", "erin")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty file"):
        import_csv(path, tmp_path / "empty.csv", "erin")
    with pytest.raises(DataError, match="no such file"):
        import_csv(path, tmp_path / "missing.csv", "erin")
    with RunStore.open(path, create=False) as store:
        LabelSession.open(store, "erin").label(ids[0], 1)
    _write(tmp_path / "c.csv", ["candidate_id", "label"], [[ids[0], "0"], [ids[1], "1"]])
    with pytest.raises(DataError, match="line 2: candidate .* already labelled 1 by human:erin; pass --replace"):
        import_csv(path, tmp_path / "c.csv", "erin")
    assert labels(path, "human:erin") == {ids[0]: 1}
    import_csv(path, tmp_path / "c.csv", "erin", replace=True)
    assert labels(path, "human:erin") == {ids[0]: 0, ids[1]: 1}


def test_the_export_is_written_whole(run, tmp_path, monkeypatch):
    log = tmp_path / "points.log"
    monkeypatch.setenv("UNIGAP_FAULT_LOG", str(log))
    export_csv(run[0], tmp_path / "labels.csv")
    assert f"file\t{tmp_path / 'labels.csv'}" in log.read_text().splitlines()
    assert _read(tmp_path / "labels.csv") and not list(tmp_path.glob(".labels.csv.*"))
