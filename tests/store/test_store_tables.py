"""Round trips of every table, idempotency, validation and the config guard."""

from __future__ import annotations

import numpy as np
import pytest
from store_helpers import make_image, make_prompts, make_rows

from unigap.errors import UnigapError
from unigap.records import Judgment
from unigap.store import RunStore, sha256_file
from unigap.store.rows import CandidateIn


def test_prompts_round_trip_in_insertion_order(store):
    prompts = make_prompts(5)
    store.add_prompts(prompts[::-1])
    assert store.prompts() == prompts[::-1]
    assert [p.id for p in store.prompts(subtask="color")] == ["p3", "p0"]
    assert store.prompts(split="eval") == []


def test_add_prompts_is_idempotent_and_refuses_a_changed_text(store):
    prompts = make_prompts(3)
    store.add_prompts(prompts)
    store.add_prompts(prompts)
    assert store.prompts() == prompts
    changed = [prompts[0].__class__(**{**prompts[0].__dict__, "text": "changed"})]
    extra = make_prompts(4)[3:]
    with pytest.raises(UnigapError, match="other texts for prompt id\\(s\\) 'p0'"):
        store.add_prompts(extra + changed)
    assert store.prompts() == prompts  # one transaction: the new prompt was not stored either
    assert set(store.prompt_hashes()) == {p.id for p in prompts}


def test_candidates_round_trip(filled):
    rows = make_rows(["p0", "p1", "p2"], 2)
    got = filled.candidates()
    assert [(c.prompt_id, c.idx, c.seed, c.source) for c in got] == [(r.prompt_id, r.idx, r.seed, "base") for r in rows]
    for c, r in zip(got, rows):
        assert c.tokens.dtype == np.int64 and np.array_equal(c.tokens, r.tokens)
        assert np.array_equal(filled.load_image(c.png), r.image)
        assert filled.image_path(c.png).is_file() and not c.png.startswith("/")
        assert filled.candidate(c.id) == c
    assert [c.prompt_id for c in filled.candidates(prompt_ids=["p1"])] == ["p1", "p1"]
    assert filled.candidates(source="other") == []


def test_add_candidates_is_idempotent(filled):
    before = filled.candidates()
    again = make_rows(["p0", "p1", "p2"], 2, seed0=50)  # same keys, different content: ignored
    ids = filled.add_candidates("base", again)
    assert ids == [c.id for c in before]
    assert filled.candidates() == before
    assert filled.counts()["candidates"] == {"base": 6}
    new_ids = filled.add_candidates("improved", again[:2])
    assert len(set(new_ids) | set(ids)) == 8


def test_missing_candidates(filled):
    assert filled.missing_candidates("base", ["p0", "p1"], 3) == [("p0", 2), ("p1", 2)]
    assert filled.missing_candidates("improved", ["p2"], 2) == [("p2", 0), ("p2", 1)]


def test_identical_images_are_stored_once(store):
    store.add_prompts(make_prompts(2))
    img = make_image(7)
    rows = [CandidateIn("p0", 0, 1, np.arange(3), img), CandidateIn("p1", 0, 2, np.arange(3), img.copy())]
    store.add_candidates("base", rows)
    a, b = store.candidates()
    assert a.png == b.png
    files = list((store.root / "images").rglob("*.png"))
    assert len(files) == 1 and files[0].stem == sha256_file(files[0])
    assert not list((store.root / "images").rglob("*.tmp"))


def test_candidates_are_validated_before_anything_is_written(store):
    store.add_prompts(make_prompts(1))
    with pytest.raises(UnigapError, match="add_prompts first"):
        store.add_candidates("base", make_rows(["nope"], 1))
    with pytest.raises(ValueError, match="uint8"):
        store.add_candidates("base", [CandidateIn("p0", 0, 0, np.arange(3), np.zeros((4, 4, 3)))])
    with pytest.raises(ValueError, match="int32"):
        store.add_candidates("base", [CandidateIn("p0", 0, 0, np.array([2**40]), make_image(0))])
    assert store.candidates() == [] and not (store.root / "images").exists()


def test_candidate_unknown_id(filled):
    with pytest.raises(UnigapError, match="no candidate with id 999"):
        filled.candidate(999)


def test_judgments_round_trip_with_join(filled):
    c = filled.candidates()
    filled.add_judgments(
        "self",
        [
            (c[0].id, Judgment(1, 0.8, "The score is 1")),
            (c[1].id, Judgment(None, None, "hmm", "unparsed")),
            (c[2].id, Judgment(None, raw="", status="failed", error="RuntimeError: boom")),
        ],
    )
    filled.add_judgments("oracle", [(c[0].id, Judgment(np.int64(0), raw="wrong colour"))])
    rows = filled.judgments()
    assert [(r.candidate_id, r.judge) for r in rows] == [
        (c[0].id, "oracle"),
        (c[0].id, "self"),
        (c[1].id, "self"),
        (c[2].id, "self"),
    ]
    r = filled.judgments(judge="self")[0]
    assert (r.verdict, r.prob, r.raw, r.status, r.error) == (1, 0.8, "The score is 1", "ok", None)
    assert (r.prompt_id, r.subtask, r.band, r.source, r.idx) == ("p0", "color", "easy", "base", 0)
    failed = filled.judgments(judge="self")[2]
    assert (failed.verdict, failed.status, failed.error) == (None, "failed", "RuntimeError: boom")
    assert filled.judgments(source="improved") == []
    assert filled.judges() == ["oracle", "self"]


def test_judgments_are_idempotent_unless_replace(filled):
    cid = filled.candidates()[0].id
    filled.add_judgments("human:ann", [(cid, Judgment(1))])
    filled.add_judgments("human:ann", [(cid, Judgment(0))])
    assert [r.verdict for r in filled.judgments("human:ann")] == [1]
    filled.add_judgments("human:ann", [(cid, Judgment(0, raw="changed my mind"))], replace=True)
    assert [(r.verdict, r.raw) for r in filled.judgments("human:ann")] == [(0, "changed my mind")]


def test_missing_judgments(filled):
    c = filled.candidates()
    filled.add_candidates("improved", make_rows(["p0"], 1, seed0=90))
    filled.add_judgments("self", [(c[0].id, Judgment(1)), (c[1].id, Judgment(None, status="failed", error="x"))])
    assert [m.id for m in filled.missing_judgments("self", "base")] == [x.id for x in c[2:]]
    assert len(filled.missing_judgments("self")) == 5
    assert [m.id for m in filled.missing_judgments("self", "base", retry_failed=True)] == [x.id for x in c[1:]]


def test_judgments_are_validated(filled):
    cid = filled.candidates()[0].id
    with pytest.raises(ValueError, match="status"):
        filled.add_judgments("self", [(cid, Judgment(1, status="maybe"))])
    with pytest.raises(ValueError, match="verdict"):
        filled.add_judgments("self", [(cid, Judgment(2))])
    with pytest.raises(UnigapError, match="not stored: 12345"):
        filled.add_judgments("self", [(cid, Judgment(1)), (12345, Judgment(1))])
    assert filled.judgments() == []  # the whole batch was refused


def test_stages(store):
    assert store.stage("audit") is None
    store.set_stage("audit", "running")
    store.set_stage("guard", "failed", {"passed": False, "rate": np.float32(0.5)})
    store.set_stage("audit", "done", {"failures": {"self": 0}})
    audit = store.stage("audit")
    assert audit["status"] == "done" and audit["info"] == {"failures": {"self": 0}} and audit["updated"] > 0
    assert [(s["name"], s["status"]) for s in store.stages()] == [("audit", "done"), ("guard", "failed")]
    assert store.stage("guard")["info"] == {"passed": False, "rate": 0.5}
    with pytest.raises(ValueError):
        store.set_stage("audit", "finished")


def test_events(store):
    store.log("audit", "started")
    store.log("curate", "kept", {"sft": np.int64(3)})
    store.log(None, "note")
    events = store.events()
    assert [(e["stage"], e["message"], e["data"]) for e in events] == [
        ("audit", "started", None),
        ("curate", "kept", {"sft": 3}),
        (None, "note", None),
    ]
    assert [e["message"] for e in store.events("curate")] == ["kept"]
    assert events[0]["time"] <= events[2]["time"]


def test_counts(filled):
    c = filled.candidates()
    filled.add_judgments(
        "self",
        [
            (c[0].id, Judgment(1)),
            (c[1].id, Judgment(None, status="unparsed")),
            (c[2].id, Judgment(None, status="failed", error="x")),
        ],
    )
    filled.add_judgments("oracle", [(x.id, Judgment(0)) for x in c])
    assert filled.counts() == {
        "prompts": 3,
        "candidates": {"base": 6},
        "judgments": {"oracle": 6, "self": 3},
        "unparsed": {"oracle": 0, "self": 1},
        "failed": {"oracle": 0, "self": 1},
    }


def test_meta_and_bad_json(store):
    assert store.get_meta("provenance") is None and store.get_meta("x", 5) == 5
    store.set_meta("provenance", {"seed": 1, "sha": "ab"})
    assert store.get_meta("provenance") == {"seed": 1, "sha": "ab"}
    store._db.conn.execute("INSERT INTO meta (key, value) VALUES ('broken', '{not json')")
    with pytest.raises(UnigapError, match=r"meta\['broken'\].*not valid JSON"):
        store.get_meta("broken")


def test_config_is_stored_once_and_a_different_one_refused(store):
    config = {"model": {"name": "tiny", "path": "a"}, "n": 4, "layers": (1, 2)}
    store.init_config(config)
    store.init_config({"model": {"name": "tiny", "path": "a"}, "n": 4, "layers": [1, 2]})  # same after JSON
    assert store.config() == {"model": {"name": "tiny", "path": "a"}, "n": 4, "layers": [1, 2]}
    with pytest.raises(UnigapError) as err:
        store.init_config({"model": {"name": "tiny", "path": "b"}, "n": 8, "layers": [1, 2], "new": True})
    msg = str(err.value)
    assert "model.path, n, new" in msg and "'a'" in msg and "'b'" in msg
    assert "--out" in msg and "same config" in msg and str(store.root) in msg
    assert store.config()["n"] == 4


def test_a_run_stored_before_an_option_existed_resumes_while_the_option_is_at_its_default(store, tmp_path):
    from unigap.store.runstore import check_out_dir

    old = {"model": {"name": "tiny"}, "n": 4}  # written by a unigap without `understand` and `model.dtype`
    store.init_config(old)
    defaults = {"model": {"name": "tiny", "dtype": "auto"}, "n": 10, "understand": {"tasks": []}}
    same = {"model": {"name": "tiny", "dtype": "auto"}, "n": 4, "understand": {"tasks": []}}
    check_out_dir(store.root, same, defaults)
    store.init_config(same, defaults)
    assert store.config() == old  # the stored config is kept as written
    for changed, key in (
        ({**same, "understand": {"tasks": ["mme"]}}, "understand.tasks"),
        ({**same, "n": 10}, "n"),
    ):  # a new option set away from its default; an old one changed
        for refuse in (
            lambda: check_out_dir(store.root, changed, defaults),
            lambda: store.init_config(changed, defaults),
        ):
            with pytest.raises(UnigapError, match=f"(?m)keys differ: {key}$"):
                refuse()
    with pytest.raises(UnigapError, match="model.dtype, understand.tasks"):
        store.init_config(same)  # without the defaults every added key differs


def test_everything_survives_reopen(tmp_path):
    with RunStore.open(tmp_path) as s:
        s.init_config({"a": 1})
        s.add_prompts(make_prompts(2))
        ids = s.add_candidates("base", make_rows(["p0"], 2))
        s.add_judgments("self", [(ids[0], Judgment(1, 0.7))])
        s.set_stage("audit", "done", {"k": 1})
        s.log("audit", "hi")
        before = (s.prompts(), s.candidates(), s.judgments(), s.stages(), s.events(), s.counts())
    with RunStore.open(tmp_path, create=False) as s:
        assert (s.prompts(), s.candidates(), s.judgments(), s.stages(), s.events(), s.counts()) == before
        assert s.config() == {"a": 1}


def test_open_without_create_needs_an_existing_run(tmp_path):
    with pytest.raises(UnigapError, match="no run store"):
        RunStore.open(tmp_path / "absent", create=False)
    assert not (tmp_path / "absent").exists()


def test_failed_candidates_are_kept_counted_and_not_requested_again(tmp_path):
    with RunStore.open(tmp_path) as s:
        s.add_prompts(make_prompts(2))
        pid = s.prompts()[0].id
        s.add_failed_candidates("base", [(pid, 1, 7, "image does not decode")])
        s.add_failed_candidates("base", [(pid, 1, 7, "again")])  # idempotent
        assert s.failed_candidates("base") == [
            {"source": "base", "prompt_id": pid, "idx": 1, "seed": 7, "reason": "image does not decode"}
        ]
        assert (pid, 1) not in s.missing_candidates("base", [pid], 3)
        assert s.counts()["failed_candidates"] == {"base": 1}
