"""The understanding journal: whole lines only, another model's journal set aside, damage not trusted."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np

from unigap.understand.journal import Journal, batch_key


def item(doc_id=0, question="q", pixel=0):
    image = np.full((4, 4, 3), pixel, np.uint8)
    return SimpleNamespace(task="t", doc_id=doc_id, question=question, continuation="", max_new_tokens=5, image=image)


def test_batch_key_names_every_part_of_a_request():
    base = batch_key("generate_until", [item()])
    assert base == batch_key("generate_until", [item()])
    others = [
        batch_key("loglikelihood", [item()]),
        batch_key("generate_until", [item(doc_id=1)]),
        batch_key("generate_until", [item(question="r")]),
        batch_key("generate_until", [item(pixel=1)]),  # same text, another image
        batch_key("generate_until", [item(), item()]),
    ]
    assert base not in others and len(set(others)) == len(others)


def test_put_get_and_reopen(tmp_path):
    path = tmp_path / "responses.jsonl"
    j = Journal(path, "model-a")
    j.put("k1", ["Yes", "No"], {"generate_until": 1})
    j.put("k2", [1.5, float("inf")], {"loglikelihood": 2})
    again = Journal(path, "model-a")
    assert again.get("k1") == (["Yes", "No"], {"generate_until": 1})
    assert again.get("k2") == ([1.5, float("inf")], {"loglikelihood": 2})
    assert again.get("k3") is None and again.replayed == 2


def test_another_models_journal_is_set_aside(tmp_path):
    path = tmp_path / "responses.jsonl"
    Journal(path, "model-a").put("k1", ["Yes"], {"generate_until": 1})
    j = Journal(path, "model-b")
    assert j.get("k1") is None
    assert json.loads(path.read_text()) == {"model": "model-b"}
    assert "k1" in (tmp_path / "responses.jsonl.stale").read_text()


def test_a_damaged_journal_is_not_trusted(tmp_path):
    path = tmp_path / "responses.jsonl"
    Journal(path, "model-a").put("k1", ["Yes"], {"generate_until": 1})
    path.write_text(path.read_text() + "{not json}\n")
    j = Journal(path, "model-a")
    assert j.get("k1") is None and (tmp_path / "responses.jsonl.stale").exists()


def test_bytes_that_are_not_text_are_not_trusted(tmp_path):
    path = tmp_path / "responses.jsonl"
    path.write_bytes(b'{"model": "model-a"}\n\xff\xfe not utf-8\n')
    j = Journal(path, "model-a")
    assert j.done == {} and json.loads(path.read_text()) == {"model": "model-a"}
    assert (tmp_path / "responses.jsonl.stale").read_bytes().startswith(b'{"model"')
