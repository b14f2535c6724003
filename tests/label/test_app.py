"""The Starlette app over HTTP (in-process client): token gate, API, escaping, images, conflicts."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from tests.label.label_helpers import SCRIPT_PROMPT, labels, make_run
from unigap.label.app import create_app
from unigap.label.session import LabelSession
from unigap.store import RunStore

TOKEN = "test-token-123"


@pytest.fixture
def served(tmp_path):
    """(client, session, run dir) for a run dir whose name contains markup."""
    run = tmp_path / "<b>run"
    make_run(run)
    with RunStore.open(run, create=False) as store:
        session = LabelSession.open(store, "alice", show_judges=True)
        with TestClient(create_app(session, TOKEN, run.name), base_url="http://127.0.0.1") as client:
            yield client, session, run


def _post(client: TestClient, path: str, body: dict, **kw):
    return client.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"}, **kw)


def test_every_route_needs_the_token(served):
    client, session, _ = served
    cid = session.order[0]
    for path in ("/", "/api/state", f"/image/{cid}", "/static/label.js", "/favicon.ico"):
        for query in ("", "?token=wrong"):
            r = client.get(path + query)
            assert r.status_code == 403 and "unigap label" in r.text, path
    assert _post(client, "/api/label", {"candidate_id": cid, "verdict": 1}).status_code == 403
    client.cookies.set("unigap_label_000000000000", TOKEN)  # a cookie under another name is no token
    assert client.get("/api/state").status_code == 403


def test_first_visit_sets_a_cookie_that_opens_the_rest(served):
    client, session, _ = served
    r = client.get(f"/?token={TOKEN}")
    assert r.status_code == 200 and "image-rendering" not in r.text  # css lives in its own file
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert client.get("/api/state").status_code == 200
    img = client.get(f"/image/{session.order[0]}")
    assert img.status_code == 200 and img.headers["content-type"] == "image/png" and img.content[:4] == b"\x89PNG"
    assert client.get("/image/99999").status_code == 404
    assert "pixelated" in client.get("/static/label.css").text
    assert client.get("/static/../app.py").status_code == 404


def test_page_escapes_markup_and_json_hides_it_too(served):
    client, session, _ = served
    page = client.get(f"/?token={TOKEN}").text
    assert "&lt;b&gt;run" in page and "<b>run" not in page  # the run dir name, autoescaped
    script_cid = next(c for c in session.order if session.item(c)["prompt"] == SCRIPT_PROMPT)
    for cid in session.order:  # bring the markup prompt to the front
        if cid != script_cid:
            _post(client, "/api/skip", {"candidate_id": cid})
    r = client.get("/api/state")
    assert "<" not in r.text and ">" not in r.text and "\\u003cscript\\u003e" in r.text
    assert r.json()["item"]["prompt"] == SCRIPT_PROMPT  # same JSON value once parsed
    assert [j["judge"] for j in r.json()["item"]["judges"]] == ["oracle", "self"]


def test_label_api_stores_refuses_changes_and_undoes(served):
    client, session, run = served
    client.get(f"/?token={TOKEN}")
    a, b = session.order[:2]
    r = _post(client, "/api/label", {"candidate_id": a, "verdict": 1})
    assert r.status_code == 200 and r.json()["done"] == 1 and r.json()["item"]["id"] == b
    again = _post(client, "/api/label", {"candidate_id": a, "verdict": 0})  # the second tab
    assert again.status_code == 409
    body = again.json()
    assert body["conflict"] == {"candidate_id": a, "stored": 1, "wanted": 0} and "already labelled" in body["error"]
    assert body["state"]["item"]["id"] == b
    assert _post(client, "/api/label", {"candidate_id": a, "verdict": 0, "change": True}).status_code == 200
    assert labels(run, "human:alice") == {a: 0}
    undo = _post(client, "/api/undo", {})
    assert undo.status_code == 200 and undo.json()["item"]["id"] == a and labels(run, "human:alice") == {}


@pytest.mark.parametrize(
    "body, status",
    [
        ({"candidate_id": 1, "verdict": 2}, 400),
        ({"candidate_id": "1", "verdict": 1}, 400),
        ({"candidate_id": True, "verdict": 1}, 400),
        ({"verdict": 1}, 400),
        ({"candidate_id": 1, "verdict": 1, "change": "yes"}, 400),
        ({"candidate_id": 99999, "verdict": 1}, 404),
    ],
)
def test_bad_label_requests_are_refused(served, body, status):
    client, _, run = served
    client.get(f"/?token={TOKEN}")
    r = _post(client, "/api/label", body)
    assert r.status_code == status and r.json()["error"]
    assert labels(run, "human:alice") == {}


def test_writes_must_be_json(served):
    client, session, _ = served
    client.get(f"/?token={TOKEN}")
    form = client.post("/api/label", data={"candidate_id": session.order[0], "verdict": 1})  # a cross-site form
    assert form.status_code == 415
    assert client.post("/api/undo", content="{", headers={"Content-Type": "application/json"}).status_code == 400
    assert client.get("/api/label").status_code == 405
