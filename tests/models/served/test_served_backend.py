"""The served backend against a stub OpenAI-compatible server on 127.0.0.1 (never the network)."""

from __future__ import annotations

import asyncio
import base64
import io
import socket
import threading
import time
from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("httpx")
pytest.importorskip("uvicorn")
pytest.importorskip("starlette")

from unigap.errors import UnigapError  # noqa: E402
from unigap.http import RouteError  # noqa: E402
from unigap.models.base import MODELS, ModelConfig, SamplingConfig, SelfJudgeConfig, load_model  # noqa: E402
from unigap.models.served.backend import load_served  # noqa: E402
from unigap.models.served.options import ServedOptions  # noqa: E402

KEY_ENV, SECRET = "UNIGAP_TEST_SERVED_KEY", "sk-served-5ecret"
SAMPLING = SamplingConfig()


def png_b64(seed: int, side: int = 8) -> str:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


class Stub:
    """Behaviour keyed by the prompt's first word; records request counts, bodies, auth headers."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.bodies: list[dict] = []
        self.auth: list[str | None] = []

    async def images(self, request):
        from starlette.responses import JSONResponse, PlainTextResponse

        body = await request.json()
        key = body["prompt"].split()[0]
        self.counts[key] += 1
        self.bodies.append(body)
        self.auth.append(request.headers.get("authorization"))
        n, seed, k = body["n"], body.get("seed", 0), self.counts[key]
        ok = {"created": 0, "data": [{"b64_json": png_b64(seed + j)} for j in range(n)]}
        if key == "slow":
            await asyncio.sleep(1.0)
            return JSONResponse(ok)
        if key == "flaky":
            return JSONResponse({"error": {"message": "engine overloaded"}}, 500) if k <= 2 else JSONResponse(ok)
        if key == "always500":
            return JSONResponse({"error": {"message": "engine dead"}}, 503)
        if key == "ratelimit":
            return (
                JSONResponse({"error": {"message": "slow down"}}, 429, headers={"Retry-After": "7"})
                if k == 1
                else JSONResponse(ok)
            )
        if key == "garbage":
            return JSONResponse({"data": [{"b64_json": base64.b64encode(b"not an image").decode()}] * n})
        if key == "nonjson":
            return PlainTextResponse("<html>gateway</html>")
        if key == "short":  # one image fewer than asked, every time
            return JSONResponse({"data": ok["data"][: max(0, n - 1)]})
        if key == "half":  # the first answer has half the images, later ones all
            return JSONResponse({"data": ok["data"][: n // 2] if k == 1 else ok["data"]})
        if key == "bad":
            return JSONResponse({"error": {"message": "unsupported size 999x999"}}, 400)
        return JSONResponse(ok)

    async def chat(self, request):
        from starlette.responses import JSONResponse

        body = await request.json()
        self.counts["chat"] += 1
        text = body["messages"][-1]["content"][-1]["text"]
        answer = "The score is 1." if "cat" in text else "The score is 0."
        return JSONResponse({"choices": [{"message": {"role": "assistant", "content": answer}}]})


@pytest.fixture(scope="module")
def stub_server():
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Route

    stub = Stub()
    app = Starlette(
        routes=[
            Route("/v1/images/generations", stub.images, methods=["POST"]),
            Route("/v1/chat/completions", stub.chat, methods=["POST"]),
        ]
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", stub
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def server(stub_server, monkeypatch):
    url, stub = stub_server
    stub.__init__()
    monkeypatch.setenv(KEY_ENV, SECRET)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    return url, stub


class Sleeps:
    """Injected sleep: records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def make(url: str, **kw):
    opts = dict(
        base_url=url,
        api_key_env=KEY_ENV,
        concurrency=4,
        timeout_s=5.0,
        max_retries=2,
        backoff=0.5,
        backoff_max=10.0,
        size="8x8",
    )
    backend = load_served(ModelConfig(name="served", path="stub-omni"), ServedOptions(**{**opts, **kw}))
    sleeps = Sleeps()
    backend.images_http.sleep = backend.chat_http.sleep = sleeps
    backend.record_failures = True  # the caller (these tests) reads gen.errors
    return backend, sleeps


def test_well_formed_per_candidate_seeds(server):
    url, stub = server
    backend, _ = make(url)
    gen = backend.generate(["ok a cat", "ok a dog", "ok a cat"], [5, 2**40 + 6, 7], SAMPLING)
    assert gen.errors == [None, None, None] and gen.tokens.shape == (3, 0) and gen.images.shape == (3, 8, 8, 3)
    assert sorted(b["seed"] for b in stub.bodies) == [5, 6, 7]  # the candidate seed mod 2^31
    assert all(b["n"] == 1 and b["size"] == "8x8" and b["response_format"] == "b64_json" for b in stub.bodies)
    expected = np.asarray(Image.open(io.BytesIO(base64.b64decode(png_b64(5)))))
    assert np.array_equal(gen.images[0].numpy(), expected)  # pixels as returned
    assert gen.raw[0] == base64.b64decode(png_b64(5))  # and the bytes as sent
    assert stub.auth == [f"Bearer {SECRET}"] * 3 and SECRET not in repr(backend) + repr(vars(backend))
    assert backend.last_stats == {"requests": 3, "retries": 0}


def test_n_per_prompt_when_the_server_takes_no_seed(server):
    url, stub = server
    backend, _ = make(url, seed_per_candidate=False, extra_body={"num_inference_steps": 4})
    gen = backend.generate(["ok x"] * 3 + ["ok y"], [1, 2, 3, 4], SAMPLING)
    assert gen.errors == [None] * 4 and sorted(b["n"] for b in stub.bodies) == [1, 3]
    assert all("seed" not in b and b["num_inference_steps"] == 4 for b in stub.bodies)


def test_faults_bounded_request_counts(server):
    url, stub = server
    backend, sleeps = make(url)
    prompts = ["flaky", "always500", "ratelimit", "garbage", "nonjson", "bad", "ok"]
    gen = backend.generate(prompts, list(range(7)), SAMPLING)
    err = dict(zip(prompts, gen.errors))
    assert err["flaky"] is None and err["ratelimit"] is None and err["ok"] is None
    assert err["always500"] == "HTTP 503: engine dead after 3 attempts"
    assert err["garbage"].startswith("image does not decode") and "not JSON" in err["nonjson"]
    assert err["bad"] == "HTTP 400: unsupported size 999x999"
    assert gen.images[1].sum() == 0  # a failed candidate's placeholder
    # 1 + max_retries for retryable faults, a single request for 4xx / undecodable / non-JSON
    assert dict(stub.counts) == {
        "flaky": 3,
        "always500": 3,
        "ratelimit": 2,
        "garbage": 1,
        "nonjson": 1,
        "bad": 1,
        "ok": 1,
    }
    assert 7 in sleeps.delays and len(sleeps.delays) == 5  # Retry-After honoured, nobody actually waited
    assert all(d <= 10.0 for d in sleeps.delays)


def test_failed_rows_raise_unless_the_caller_records_them(server):
    from unigap.audit.runner import recording_failures

    url, stub = server
    fresh = load_served(ModelConfig(name="served", path="stub-omni"), ServedOptions(base_url=url, api_key_env=KEY_ENV))
    assert fresh.record_failures is False  # the default: every caller but the audit
    backend, _ = make(url)
    backend.record_failures = False
    with pytest.raises(UnigapError, match=r"1 of 2 candidates failed .*garbage.*image does not decode"):
        backend.generate(["ok", "garbage"], [0, 1], SAMPLING)
    with recording_failures(backend):  # what the audit's generate stage does
        gen = backend.generate(["ok", "garbage"], [0, 1], SAMPLING)
    assert gen.errors[0] is None and "image does not decode" in gen.errors[1]
    assert backend.record_failures is False  # restored after the stage


def test_short_batches_refilled_and_bounded(server):
    url, stub = server
    backend, _ = make(url, seed_per_candidate=False, max_refills=2)
    gen = backend.generate(["half x"] * 4, [0, 1, 2, 3], SAMPLING)
    assert gen.errors == [None] * 4 and [b["n"] for b in stub.bodies] == [4, 2]  # the missing two, once more
    gen = backend.generate(["short x"] * 3, [0, 1, 2], SAMPLING)
    assert [b["n"] for b in stub.bodies[2:]] == [3, 1, 1]  # 2 of 3, then 0 of 1, twice: 3 rounds in all
    assert gen.errors[:2] == [None, None] and "no image after 3 request rounds" in gen.errors[2]


def test_missing_images_route_is_one_clear_error(server):
    url, stub = server
    backend, sleeps = make(url + "/nothing-here")
    with pytest.raises(RouteError, match=r"/nothing-here/v1/images/generations answered HTTP 404") as e:
        backend.generate(["ok a"] * 6, list(range(6)), SAMPLING)
    assert backend.images_http.last_stats["requests"] <= backend.options.concurrency  # no retry storm
    assert sleeps.delays == [] and SECRET not in str(e.value)


def test_slow_server_times_out(server):
    url, stub = server
    backend, _ = make(url, timeout_s=0.2, max_retries=1)
    gen = backend.generate(["slow"], [0], SAMPLING)
    assert gen.errors == ["timed out after 0.2 s (ReadTimeout) after 2 attempts"] and stub.counts["slow"] == 2


def test_unreachable_server_raises(monkeypatch):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    monkeypatch.delenv(KEY_ENV, raising=False)
    backend, _ = make(f"http://127.0.0.1:{sock.getsockname()[1]}", api_key_env=None)
    try:
        with pytest.raises(UnigapError, match="unreachable"):
            backend.generate(["ok"], [0], SAMPLING)
    finally:
        sock.close()


def test_judge_and_answer_through_chat(server):
    url, stub = server
    backend, _ = make(url, chat_model="stub-vl")
    images = torch.zeros(2, 8, 8, 3, dtype=torch.uint8)
    js = backend.judge(images, ["a cat", "a dog"], SelfJudgeConfig())
    assert [(j.verdict, j.status) for j in js] == [(1, "ok"), (0, "ok")]
    assert backend.answer(images[:1], ["is there a cat?"]) == ["The score is 1."]
    assert stub.counts["chat"] == 3


def test_registered_improve_refused_and_fingerprint(monkeypatch):
    model = load_model(ModelConfig(name="served", path="bagel", options={"base_url": "http://h:1", "size": "64x64"}))
    fp = model.fingerprint()
    assert fp["model"] == "bagel" and fp["images_url"] == "http://h:1/v1/images/generations"
    for call in (model.module, model.components, lambda: model.image_logprobs(["x"], torch.zeros(1, 0))):
        with pytest.raises(UnigapError, match="no local weights.*unigap improve"):
            call()
    with pytest.raises(UnigapError, match="size"):
        MODELS.validate_options("served", {"size": "big"}, "model.options")


def test_audit_resume_requests_nothing_again(server, tmp_path):
    """Through the audit runner: a rerun finds every candidate and judgment stored and sends nothing."""
    from unigap.audit.runner import AuditConfig, run_audit

    url, stub = server
    cfg = AuditConfig.model_validate(
        {
            "model": {
                "name": "served",
                "path": "stub-omni",
                "options": {"base_url": url, "size": "32x32", "api_key_env": KEY_ENV},
            },
            "prompts": {"per_subtask": 1},
            "n": 2,
            "judges": [],
            "n_boot": 10,
            "chunk_size": 8,
        }
    )
    metrics = run_audit(cfg, tmp_path / "run")
    first = sum(stub.counts.values())
    assert stub.counts["chat"] == 18 and first == 36  # 9 prompts x 2 candidates: one image + one judgment each
    run_audit(cfg, tmp_path / "run")
    assert sum(stub.counts.values()) == first and metrics["counts"]
