"""`HttpJudge` against a scripted OpenAI-compatible stub on 127.0.0.1 (real sockets) and MockTransport.

Each test prompt's text is a key ("yes", "flaky", ...) that tells the stub how to answer; the
stub counts the requests it saw per key, so retries are asserted exactly.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import math
import re
import socket
import threading
import time
from collections import Counter

import httpx
import numpy as np
import pytest
import torch
from PIL import Image

from unigap.errors import UnigapError
from unigap.judges.http import HttpJudge, endpoint_url, parse_retry_after, score_prob
from unigap.records import Prompt
from unigap.verdict import SYSTEM_TEXT

KEY_ENV = "UNIGAP_TEST_JUDGE_KEY"
SECRET = "sk-test-5ecret-do-not-leak"
SLOW_S = 1.5  # the stub's delay for "slow", against a 0.3 s judge timeout in that test only
TIMEOUT_S = 5.0  # elsewhere: generous, so that a loaded CI machine never turns an answer into a timeout

# ---- stub server ----------------------------------------------------------------------


def chat(text: str, logprobs: list | None = None) -> dict:
    choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
    if logprobs is not None:
        choice["logprobs"] = {"content": logprobs}
    return {"id": "x", "object": "chat.completion", "choices": [choice]}


def score_logprobs(p1: float, p0: float) -> list:
    toks = [{"token": t, "logprob": -0.01, "top_logprobs": []} for t in ["The", " score", " is"]]
    alts = [
        {"token": " 1", "logprob": math.log(p1)},
        {"token": " 0", "logprob": math.log(p0)},
        {"token": " 2", "logprob": math.log(0.01)},
    ]
    return toks + [
        {"token": " 1", "logprob": math.log(p1), "top_logprobs": alts},
        {"token": ".", "logprob": -0.01, "top_logprobs": []},
    ]


class Stub:
    """Scripted behaviours keyed by the prompt text; records counts, auth headers and concurrency."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.auth: list[str | None] = []
        self.bodies: list[dict] = []
        # per key: a "slow" handler of an earlier test may still be sleeping after a reset
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()

    def reset(self) -> None:
        self.__init__()

    async def handle(self, request):
        from starlette.responses import JSONResponse, PlainTextResponse

        body = await request.json()
        key = re.search(r"describe (.+?)\? If", json.dumps(body)).group(1)
        self.counts[key] += 1
        self.auth.append(request.headers.get("authorization"))
        self.bodies.append(body)
        self.in_flight[key] += 1
        self.max_in_flight[key] = max(self.max_in_flight[key], self.in_flight[key])
        try:
            return await self.respond(key, self.counts[key], JSONResponse, PlainTextResponse)
        finally:
            self.in_flight[key] -= 1

    async def respond(self, key: str, n: int, J, T):
        if key == "slow":
            await asyncio.sleep(SLOW_S)
            return J(chat("The score is 1."))
        if key == "busy":  # holds a connection briefly: used to observe the concurrency bound
            await asyncio.sleep(0.1)
            return J(chat("The score is 1."))
        if key == "flaky":
            return J({"error": {"message": "overloaded"}}, 500) if n <= 2 else J(chat("The score is 1."))
        if key == "always500":
            return J({"error": {"message": "engine dead"}}, 503)
        if key == "ratelimit":
            return (
                J({"error": {"message": "slow down"}}, 429, headers={"Retry-After": "0.2"})
                if n == 1
                else J(chat("The score is 0."))
            )
        if key == "bad":
            return J({"object": "error", "message": "image too large", "type": "BadRequestError"}, 400)
        if key == "leaky401":
            return J({"error": {"message": f"Incorrect API key provided: {SECRET}"}}, 401)
        if key == "garbage":
            return J({"unexpected": True})
        if key == "nonjson":
            return T("<html>gateway says hi</html>")
        if key == "prob":
            return J(chat("The score is 1.", score_logprobs(0.6, 0.3)))
        answers = {"yes": "The score is 1.", "no": "The score is 0.", "unsure": "I cannot tell"}
        return J(chat(answers[key]))


@pytest.fixture(scope="module")
def stub_server():
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Route

    stub = Stub()
    app = Starlette(routes=[Route("/v1/chat/completions", stub.handle, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # a free loopback port, held by us, handed to uvicorn
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "stub server did not start"
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", stub
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def server(stub_server, monkeypatch):
    url, stub = stub_server
    stub.reset()
    monkeypatch.setenv(KEY_ENV, SECRET)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)  # loopback only, never through a proxy
    return url, stub


def make_judge(url: str, **kw) -> HttpJudge:
    opts = dict(
        base_url=url,
        model="stub-vl",
        api_key_env=KEY_ENV,
        concurrency=4,
        timeout_s=TIMEOUT_S,
        max_retries=2,
        backoff=0.02,
        backoff_max=0.5,
        seed=0,
    )
    return HttpJudge(**{**opts, **kw})


def batch(keys: list[str]) -> tuple[torch.Tensor, list[Prompt]]:
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 256, size=(len(keys), 16, 16, 3), dtype=np.uint8))
    return images, [Prompt(f"p{i}", k, "t", "test", "stub") for i, k in enumerate(keys)]


# ---- real-socket tests --------------------------------------------------------------------

FAULTS = ["yes", "no", "unsure", "flaky", "always500", "ratelimit", "bad", "garbage", "nonjson"]


def test_faults_each_bounded_and_reported(server):
    url, stub = server
    judge = make_judge(url)
    t0 = time.monotonic()
    js = dict(zip(FAULTS, judge.judge(*batch(FAULTS))))
    elapsed = time.monotonic() - t0
    assert len(js) == len(FAULTS)
    assert (js["yes"].verdict, js["yes"].status, js["yes"].raw) == (1, "ok", "The score is 1.")
    assert (js["no"].verdict, js["no"].status, js["no"].prob) == (0, "ok", None)
    assert (js["unsure"].verdict, js["unsure"].status, js["unsure"].raw) == (None, "unparsed", "I cannot tell")
    assert js["flaky"].verdict == 1 and js["ratelimit"].verdict == 0
    assert js["always500"].status == "failed" and js["always500"].error == "HTTP 503: engine dead after 3 attempts"
    assert js["bad"].status == "failed" and js["bad"].error == "HTTP 400: image too large"
    assert js["garbage"].status == "failed" and "unexpected response shape" in js["garbage"].error
    assert js["nonjson"].status == "failed" and "not JSON" in js["nonjson"].error
    # exact request counts: 1 + max_retries for retryable faults, no retry for 4xx / bad bodies
    assert dict(stub.counts) == {
        "yes": 1,
        "no": 1,
        "unsure": 1,
        "flaky": 3,
        "always500": 3,
        "ratelimit": 2,
        "bad": 1,
        "garbage": 1,
        "nonjson": 1,
    }
    assert judge.last_stats == {"requests": 14, "retries": 5}
    # the longest item is the 429: Retry-After 0.2 s; the 5xx backoffs are <= 0.02 + 0.04 s
    assert 0.2 <= elapsed < 2.0, elapsed


def test_slow_server_times_out_each_attempt(server):
    url, stub = server
    judge = make_judge(url, timeout_s=0.3)
    t0 = time.monotonic()
    (j,) = judge.judge(*batch(["slow"]))
    elapsed = time.monotonic() - t0
    assert j.status == "failed" and j.verdict is None
    assert j.error == "timed out after 0.3 s (ReadTimeout) after 3 attempts"
    assert stub.counts == {"slow": 3} and judge.last_stats == {"requests": 3, "retries": 2}
    assert 0.9 <= elapsed < 2.5, elapsed  # 3 x 0.3 s + two backoffs (<= 0.02, <= 0.04 s)


def test_request_format_and_key(server):
    url, stub = server
    judge = make_judge(url, max_tokens=7)
    (j,) = judge.judge(*batch(["yes"]))
    body = stub.bodies[0]
    assert body["model"] == "stub-vl" and body["temperature"] == 0 and body["max_tokens"] == 7
    assert "logprobs" not in body
    system, user = body["messages"]
    assert system == {"role": "system", "content": SYSTEM_TEXT}
    image_part, text_part = user["content"]
    assert text_part["text"].startswith("Does this image describe yes? If it describes the scene, score 1")
    data = image_part["image_url"]["url"]
    assert data.startswith("data:image/png;base64,")
    png = Image.open(io.BytesIO(base64.b64decode(data.split(",", 1)[1])))
    assert np.array_equal(np.asarray(png), batch(["yes"])[0][0].numpy())
    assert stub.auth == [f"Bearer {SECRET}"]
    assert SECRET not in repr(j) and SECRET not in repr(judge) and SECRET not in repr(vars(judge))


def test_single_user_turn_option(server):
    url, stub = server
    make_judge(url, system_turn=False).judge(*batch(["no"]))
    (user,) = stub.bodies[0]["messages"]
    assert user["role"] == "user" and user["content"][1]["text"].startswith(SYSTEM_TEXT + " Does this image")


def test_key_echoed_by_server_is_masked(server):
    url, stub = server
    (j,) = make_judge(url).judge(*batch(["leaky401"]))
    assert j.status == "failed" and stub.counts["leaky401"] == 1
    assert SECRET not in j.error and "***" in j.error and j.error.startswith("HTTP 401")


def test_no_key_env_sends_no_authorization(server, monkeypatch):
    url, stub = server
    (j,) = make_judge(url, api_key_env=None).judge(*batch(["yes"]))
    assert j.verdict == 1 and stub.auth == [None]
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(UnigapError, match=f"{KEY_ENV} .* is not set"):
        make_judge(url).judge(*batch(["yes"]))
    assert stub.counts["yes"] == 1  # nothing sent without the key


def test_retry_after_is_honoured(server):
    url, stub = server
    t0 = time.monotonic()
    (j,) = make_judge(url, backoff=0.001).judge(*batch(["ratelimit"]))
    assert j.verdict == 0 and stub.counts["ratelimit"] == 2
    assert 0.2 <= time.monotonic() - t0 < 1.5  # waited the server's 0.2 s, not the 1 ms backoff


def test_concurrency_is_bounded(server):
    url, stub = server
    js = make_judge(url, concurrency=2).judge(*batch(["busy"] * 6))
    assert [j.verdict for j in js] == [1] * 6
    assert stub.max_in_flight["busy"] == 2 and stub.counts["busy"] == 6


def test_prob_mode_reads_score_token(server):
    url, stub = server
    (j,) = make_judge(url, mode="prob", top_logprobs=3).judge(*batch(["prob"]))
    assert stub.bodies[0]["logprobs"] is True and stub.bodies[0]["top_logprobs"] == 3
    assert j.prob == pytest.approx(0.6 / 0.9) and j.verdict == 1 and j.raw == "The score is 1."
    (j,) = make_judge(url, mode="prob", threshold=0.7).judge(*batch(["prob"]))
    assert j.verdict == 0


def test_prob_mode_falls_back_to_parse_once(server, caplog):
    url, _ = server
    judge = make_judge(url, mode="prob")
    with caplog.at_level(logging.WARNING, logger="unigap.judges.http"):
        js = judge.judge(*batch(["yes", "no", "unsure"]))
        js += judge.judge(*batch(["yes"]))
    assert [(j.verdict, j.prob, j.status) for j in js] == [
        (1, None, "ok"),
        (0, None, "ok"),
        (None, None, "unparsed"),
        (1, None, "ok"),
    ]
    assert sum("no usable logprobs" in r.getMessage() for r in caplog.records) == 1


def test_unreachable_server_raises_after_retries(monkeypatch):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound but never listening: connections are refused
    port = sock.getsockname()[1]
    monkeypatch.setenv(KEY_ENV, SECRET)
    judge = make_judge(f"http://127.0.0.1:{port}", max_retries=2)
    t0 = time.monotonic()
    try:
        with pytest.raises(UnigapError, match="unreachable") as err:
            judge.judge(*batch(["yes", "no", "unsure"]))
    finally:
        sock.close()
    assert time.monotonic() - t0 < 2.0
    assert SECRET not in str(err.value) and f"127.0.0.1:{port}" in str(err.value)
    assert 3 <= judge.last_stats["requests"] <= 9  # the first item to exhaust its 3 attempts stops the batch


# ---- MockTransport: partial connection failures, pure helpers ------------------------------


def test_connect_errors_on_some_items_fail_only_those(monkeypatch):
    seen: Counter[str] = Counter()

    def handler(request: httpx.Request) -> httpx.Response:
        key = re.search(r"describe (.+?)\? If", request.content.decode()).group(1)
        seen[key] += 1
        if key == "down":
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json=chat("The score is 1."))

    judge = make_judge("http://judge.invalid", max_retries=1, api_key_env=None)
    judge._transport = httpx.MockTransport(handler)
    js = judge.judge(*batch(["yes", "down"]))
    assert js[0].verdict == 1
    assert js[1].status == "failed" and js[1].error.startswith("cannot connect") and "after 2 attempts" in js[1].error
    assert seen == {"yes": 1, "down": 2}


def test_judge_from_running_event_loop():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=chat("The score is 0."))

    judge = make_judge("http://judge.invalid", api_key_env=None)
    judge._transport = httpx.MockTransport(handler)

    async def inside() -> list:
        return judge.judge(*batch(["no"]))

    assert asyncio.run(inside())[0].verdict == 0


def test_helpers():
    assert endpoint_url("http://h:8000") == "http://h:8000/v1/chat/completions"
    assert endpoint_url("http://h:8000/v1/") == "http://h:8000/v1/chat/completions"
    assert endpoint_url("https://x/v1/chat/completions") == "https://x/v1/chat/completions"
    assert parse_retry_after("2") == 2.0 and parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: retry now
    assert score_prob(chat("The score is 1.")) is None
    only_one = [
        {"token": "The score is", "logprob": 0.0},
        {"token": "1", "logprob": math.log(0.9), "top_logprobs": [{"token": "1", "logprob": math.log(0.9)}]},
    ]
    assert score_prob(chat("", only_one)) == 1.0
    judge = make_judge("http://h", backoff=1.0, backoff_max=4.0)
    delays = [judge.delay(k, None) for k in range(1, 6)]
    assert 0.5 <= delays[0] <= 1.0 and all(2.0 <= d <= 4.0 for d in delays[2:])
    assert judge.delay(1, 100.0) == 4.0 and judge.name == "http:stub-vl"
    with pytest.raises(UnigapError, match="mode"):
        HttpJudge(mode="vote")
    assert judge.judge(torch.zeros(0, 8, 8, 3, dtype=torch.uint8), []) == []
