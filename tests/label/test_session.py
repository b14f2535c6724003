"""The labelling session without HTTP: storing, conflicts, skips, undo, restarts, two tabs, metrics."""

from __future__ import annotations

import threading

import pytest

from tests.label.label_helpers import labels, make_run
from unigap.analysis.metrics import audit_metrics
from unigap.label.session import LabelConflict, LabelSession, NotInSample
from unigap.store import RunStore


@pytest.fixture
def run(tmp_path):
    make_run(tmp_path / "run")
    return tmp_path / "run"


def test_labels_are_stored_at_once_and_a_restart_continues(run):
    with RunStore.open(run, create=False) as store:
        s = LabelSession.open(store, "alice", k=5, seed=3)
        order = list(s.order)
        first = s.state()
        assert (first["done"], first["total"], first["item"]["id"]) == (0, 5, order[0])
        after = s.label(order[0], 1)
        assert after["done"] == 1 and after["item"]["id"] == order[1]
        s.label(order[1], 0)
        assert labels(run, "human:alice") == {order[0]: 1, order[1]: 0}  # visible to another connection
    with RunStore.open(run, create=False) as store:  # "restart": a new session continues
        s2 = LabelSession.open(store, "alice", k=5, seed=3)
        assert s2.order == order and s2.state()["item"]["id"] == order[2] and s2.state()["done"] == 2
        rows = store.judgments(judge="human:alice")
    assert {(r.prob, r.raw, r.status) for r in rows} == {(None, "human label", "ok")}


def test_second_label_is_refused_unless_it_is_a_change(run):
    with RunStore.open(run, create=False) as store:
        s = LabelSession.open(store, "bob")
        cid = s.order[0]
        s.label(cid, 1)
        with pytest.raises(LabelConflict, match="already labelled 'matches' by human:bob") as err:
            s.label(cid, 0)
        assert (err.value.stored, err.value.wanted) == (1, 0)
        with pytest.raises(LabelConflict, match="the same as this label"):
            s.label(cid, 1)
        s.label(cid, 0, change=True)
        with pytest.raises(NotInSample):
            s.label(10_000, 1)
    assert labels(run, "human:bob") == {cid: 0}


def test_skips_come_back_after_the_rest_and_only_in_the_session(run):
    with RunStore.open(run, create=False) as store:
        s = LabelSession.open(store, "carol", k=3, seed=0)
        a, b, c = s.order
        assert s.skip(a)["item"]["id"] == b
        assert s.skip(b)["item"]["id"] == c
        assert s.label(c, 1)["item"]["id"] == a  # only skipped ones left: the oldest skip first
        assert s.skip(a)["item"]["id"] == b
        assert s.state()["skipped"] == 2
        s.label(b, 0)
        s.label(a, 1)
        assert s.state()["item"] is None and s.state()["done"] == 3
        assert LabelSession.open(store, "carol", k=3, seed=0).skipped == {}


def test_undo_removes_this_labellers_last_label_and_shows_it_again(run):
    with RunStore.open(run, create=False) as store:
        s, other = LabelSession.open(store, "dave"), LabelSession.open(store, "erin")
        o = s.order
        s.label(o[0], 1)
        s.label(o[1], 0)
        other.label(o[2], 1)  # another labeller's later label is not touched
        s.label(o[0], 0, change=True)  # a change counts as the latest label
        undone = s.undo()
        assert undone["item"]["id"] == o[0] and "undid" in undone["notice"]
        assert s.undo()["item"]["id"] == o[1]
        assert s.undo()["notice"] == "nothing to undo"
    assert labels(run, "human:dave") == {} and labels(run, "human:erin") == {o[2]: 1}


def test_two_tabs_labelling_the_same_item_store_one_label(run):
    """Eight racing requests, through one session and through a second connection (another server)."""
    with RunStore.open(run, create=False) as store, RunStore.open(run, create=False) as store2:
        sessions = [LabelSession.open(store, "frank"), LabelSession.open(store2, "frank")]
        cid, outcomes, barrier = sessions[0].order[0], [], threading.Barrier(8)

        def tab(i: int) -> None:
            barrier.wait()
            try:
                sessions[i % 2].label(cid, i % 2)
                outcomes.append("stored")
            except LabelConflict:
                outcomes.append("refused")

        threads = [threading.Thread(target=tab, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(outcomes) == ["refused"] * 7 + ["stored"]
    assert list(labels(run, "human:frank")) == [cid]


def test_show_judges_lists_the_other_judges_only_when_asked(run):
    with RunStore.open(run, create=False) as store:
        blind = LabelSession.open(store, "gina")
        cid = blind.order[0]
        assert "judges" not in blind.state()["item"]
        shown = LabelSession.open(store, "gina", show_judges=True)
        shown.label(cid, 1)
        item = shown.item(cid)
    assert [j["judge"] for j in item["judges"]] == ["oracle", "self"]  # not the labeller's own
    assert (item["width"], item["height"]) == (32, 32)


def test_human_labels_enter_the_metrics_as_an_external_judge(run):
    with RunStore.open(run, create=False) as store:
        s = LabelSession.open(store, "alice")
        for cid in s.order:
            s.label(cid, 0)
        metrics = audit_metrics(store.judgments(), n_boot=20)["metrics"]
    assert "weak_generation/human:alice" in metrics and "generation_score/human:alice" in metrics
