"""Scale-out parts: each rank writes its own DB; merge_parts copies them into the main DB once."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from store_helpers import make_prompts, make_rows

from unigap.errors import UnigapError
from unigap.records import Judgment
from unigap.store import RunStore, merge_parts, part_path, part_paths


def _write_rank(run_dir, rank: int, prompt_ids: list[str], n: int = 2) -> None:
    with RunStore.open_part(run_dir, rank) as part:
        part.add_prompts(make_prompts(4))
        ids = part.add_candidates("base", make_rows(prompt_ids, n, seed0=10 * rank))
        part.add_judgments("self", [(i, Judgment(rank % 2, 0.5, f"rank {rank}")) for i in ids])
        part.add_judgments("oracle", [(ids[0], Judgment(None, status="unparsed"))])
        part.log("audit", f"rank {rank} done", {"rank": rank})


def _snapshot(store: RunStore) -> tuple:
    cands = [(c.source, c.prompt_id, c.idx, c.seed, c.tokens.tolist(), c.png) for c in store.candidates()]
    judged = [(r.prompt_id, r.idx, r.judge, r.verdict, r.raw, r.status) for r in store.judgments()]
    return store.prompts(), cands, judged, [(e["message"], e["data"]) for e in store.events()], store.counts()


def test_part_files_share_the_images_dir(tmp_path):
    with RunStore.open_part(tmp_path, 3) as part:
        assert part.path == part_path(tmp_path, 3) == tmp_path / "parts" / "rank3.sqlite"
        part.add_prompts(make_prompts(1))
        (c,) = [part.candidate(i) for i in part.add_candidates("base", make_rows(["p0"], 1))]
        assert (tmp_path / c.png).is_file() and c.png.startswith("images/")


def test_merge_twice_equals_merge_once(tmp_path):
    with RunStore.open(tmp_path) as main:  # the main DB already holds other work: ids must be re-mapped
        main.add_prompts(make_prompts(4))
        main.add_candidates("improved", make_rows(["p3"], 3, seed0=500))
    _write_rank(tmp_path, 0, ["p0", "p1"])
    _write_rank(tmp_path, 1, ["p2", "p3"])
    assert part_paths(tmp_path) == [part_path(tmp_path, 0), part_path(tmp_path, 1)]

    first = merge_parts(tmp_path)
    assert first == {"parts": 2, "prompts": 0, "candidates": 8, "judgments": 10, "events": 2}
    with RunStore.open(tmp_path) as main:
        once = _snapshot(main)
        rows = main.judgments(judge="self")
        assert [(r.prompt_id, r.idx, r.raw) for r in rows][:2] == [("p0", 0, "rank 0"), ("p0", 1, "rank 0")]
        assert {r.raw for r in rows if r.prompt_id == "p3"} == {"rank 1"}
        for r in rows:  # each judgment points at the candidate it judged in its part
            c = main.candidate(r.candidate_id)
            assert (c.source, c.prompt_id, c.idx) == (r.source, r.prompt_id, r.idx)
    assert once[4]["candidates"] == {"base": 8, "improved": 3}
    assert once[4]["judgments"] == {"oracle": 2, "self": 8} and once[4]["unparsed"]["oracle"] == 2

    second = merge_parts(tmp_path)
    assert second == {"parts": 2, "prompts": 0, "candidates": 0, "judgments": 0, "events": 0}
    with RunStore.open(tmp_path) as main:
        assert _snapshot(main) == once
    assert part_path(tmp_path, 0).exists() and part_path(tmp_path, 1).exists()


def test_a_resumed_rank_is_merged_incrementally(tmp_path):
    _write_rank(tmp_path, 0, ["p0"])
    merge_parts(tmp_path)
    with RunStore.open_part(tmp_path, 0) as part:  # the rank resumes and adds more
        ids = part.add_candidates("base", make_rows(["p1"], 1, seed0=77))
        part.add_judgments("self", [(ids[0], Judgment(1))])
        part.log("audit", "resumed")
    added = merge_parts(tmp_path)
    assert added == {"parts": 1, "prompts": 0, "candidates": 1, "judgments": 1, "events": 1}
    with RunStore.open(tmp_path) as main:
        assert [e["message"] for e in main.events()] == ["rank 0 done", "resumed"]
        assert len(main.candidates()) == 3 and len(main.judgments("self")) == 3
        assert np.array_equal(main.candidates()[-1].tokens, make_rows(["p1"], 1, seed0=77)[0].tokens)


def test_merge_without_parts(tmp_path):
    assert merge_parts(tmp_path) == {"parts": 0, "prompts": 0, "candidates": 0, "judgments": 0, "events": 0}


def test_merge_refuses_a_newer_part(tmp_path):
    _write_rank(tmp_path, 0, ["p0"])
    with sqlite3.connect(part_path(tmp_path, 0)) as db:
        db.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(UnigapError, match="rank0.sqlite has schema version 999"):
        merge_parts(tmp_path)
