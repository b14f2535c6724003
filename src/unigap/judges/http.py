"""`--judge http`: an OpenAI-compatible `/v1/chat/completions` endpoint as external judge.

Works with vLLM (e.g. `vllm serve Qwen/Qwen2.5-VL-72B-Instruct`), OpenAI and compatible
gateways. Each (image, prompt) pair is one request: the paper's question with the image as a
base64 PNG data URL, temperature 0. Requests run concurrently (bounded by `concurrency`).

Failure policy (one item never raises; see `HttpJudge.judge`):
- 429, 5xx, network errors and timeouts are retried up to `max_retries` times with capped
  exponential backoff and jitter (a 429's Retry-After is honoured, capped at `backoff_max`);
- other 4xx are not retried: the item fails with the server's message;
- a 200 whose body is not the expected JSON fails the item without a retry (a deterministic
  server answers the same way again);
- if no request of a batch gets any HTTP response and an item exhausts its retries on
  connection errors, the server is unreachable: `UnigapError` is raised (nothing would succeed,
  and the caller keeps what it stored from earlier batches).

The API key is read from the environment variable named by `api_key_env` at call time; it is
never stored on the judge, and it is masked in any text that goes into a Judgment.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import io
import json
import logging
import math
import os
import random
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Sequence

import numpy as np
import torch

from unigap.errors import UnigapError
from unigap.records import Judgment, Prompt
from unigap.verdict import ANSWER_PREFIX, SYSTEM_TEXT, full_question, parse_verdict, question

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 429})  # plus every 5xx; 408/409 are transient by definition
MAX_ERROR_CHARS = 500


class _Unreachable(Exception):
    """Raised inside the batch when the server never answered and an item ran out of retries."""


@dataclass
class _Reply:
    """One attempt's outcome: `data` (parsed JSON of a 200) or an error, and whether to retry."""

    data: dict | None = None
    error: str | None = None
    retry: bool = False
    retry_after: float | None = None
    connect_error: bool = False


@dataclass
class _BatchState:
    """Shared by a batch's requests: counts (reported in `last_stats`) and the reachability flag."""

    requests: int = 0
    retries: int = 0
    responded: bool = False  # some request of this batch got an HTTP response
    sem: asyncio.Semaphore | None = None


def image_data_url(image: np.ndarray) -> str:
    """(H, W, 3) uint8 -> `data:image/png;base64,...`."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def endpoint_url(base_url: str) -> str:
    """Accept `http://h:8000`, `http://h:8000/v1` or the full `.../chat/completions` URL."""
    url = base_url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    return url + ("/chat/completions" if url.endswith("/v1") else "/v1/chat/completions")


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_message(resp: "httpx.Response") -> str:
    """The server's own message from an error body (OpenAI/vLLM/FastAPI shapes), else its text."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        err = body.get("error", body)
        msg = err.get("message") if isinstance(err, dict) else err
        msg = msg or body.get("detail") or body.get("message")
        if msg:
            return f"HTTP {resp.status_code}: {str(msg)[:MAX_ERROR_CHARS]}"
    return f"HTTP {resp.status_code}: {resp.text[:MAX_ERROR_CHARS].strip() or resp.reason_phrase}"


def answer_text(data: Any) -> str:
    """choices[0].message.content as text; raises ValueError on any other shape."""
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as err:
        raise ValueError(f"unexpected response shape (no choices[0].message.content): {err!r}") from None
    if isinstance(content, list):  # content parts: keep the text ones
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if not isinstance(content, str):
        raise ValueError(f"unexpected message content of type {type(content).__name__}")
    return content


def _digit(token: str) -> str | None:
    t = token.strip()
    return t if t in ("0", "1") else None


def _score_position(content: list[dict]) -> int | None:
    """Index of the first non-blank token after the text 'The score is', or None."""
    text, seen_prefix = "", False
    for i, item in enumerate(content):
        token = item.get("token", "")
        if seen_prefix and token.strip():
            return i
        text += token
        seen_prefix = seen_prefix or text.rstrip().lower().endswith(ANSWER_PREFIX.lower())
    return None


def score_prob(data: Any) -> float | None:
    """P("1") / (P("1") + P("0")) at the score token from chat logprobs; None if not available.

    The digit may be a token of its own or carry a leading space (" 1"), so alternatives are
    matched on the stripped token text and summed. A digit missing from top_logprobs counts as
    probability 0 (its true value is below the smallest listed one).
    """
    try:
        content = data["choices"][0]["logprobs"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    if not isinstance(content, list):
        return None
    pos = _score_position(content)
    if pos is None:
        return None
    mass = {"0": 0.0, "1": 0.0}
    for alt in content[pos].get("top_logprobs") or [content[pos]]:
        d = _digit(str(alt.get("token", "")))
        if d is not None and alt.get("logprob") is not None:
            mass[d] += math.exp(float(alt["logprob"]))
    total = mass["0"] + mass["1"]
    return mass["1"] / total if total > 0 else None


def _run_sync(coro: Any) -> Any:
    """asyncio.run, also from inside a running loop (Jupyter): then in a helper thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as err:  # re-raised in the caller's thread
            box["error"] = err

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class HttpJudge:
    """Judge through an OpenAI-compatible chat-completions server.

    base_url: server root, `/v1` root or the full endpoint; model: the served model name;
    api_key_env: name of the environment variable holding the key; None (default) sends no
    Authorization header (local vLLM), so that no key reaches a server it was not meant for;
    named but unset is an error before any request;
    concurrency: requests in flight; timeout_s: per request; max_retries: extra attempts per
    item on retryable errors; backoff / backoff_max: first delay and cap in seconds;
    mode: "parse" (read 'The score is N') or "prob" (logprobs of the score token, falling back
    to parse if the server gives none); threshold: prob-mode verdict = prob > threshold;
    system_turn: True sends SYSTEM_TEXT as a system message and the question after the image,
    False sends one user turn with `full_question` (for servers that reject system messages).
    """

    def __init__(self, base_url: str = "http://127.0.0.1:8000", model: str = "Qwen/Qwen2.5-VL-72B-Instruct",
                 api_key_env: str | None = None, concurrency: int = 8, timeout_s: float = 120.0,
                 max_retries: int = 4, backoff: float = 1.0, backoff_max: float = 30.0, max_tokens: int = 32,
                 mode: Literal["parse", "prob"] = "parse", top_logprobs: int = 5, threshold: float = 0.5,
                 system_turn: bool = True, seed: int | None = None) -> None:
        if mode not in ("parse", "prob"):
            raise UnigapError(f"http judge: mode must be 'parse' or 'prob', not {mode!r}")
        if concurrency < 1 or max_retries < 0 or timeout_s <= 0:
            raise UnigapError("http judge: need concurrency >= 1, max_retries >= 0 and timeout_s > 0")
        self.name = f"http:{model}"
        self.url, self.model, self.api_key_env = endpoint_url(base_url), model, api_key_env
        self.concurrency, self.timeout_s, self.max_retries = concurrency, float(timeout_s), max_retries
        self.backoff, self.backoff_max, self.max_tokens = float(backoff), float(backoff_max), max_tokens
        self.mode, self.top_logprobs, self.threshold, self.system_turn = mode, top_logprobs, threshold, system_turn
        self._rng = random.Random(seed)  # jitter only; seeded for reproducible test timing
        self._warned_no_logprobs = False
        self._transport: Any = None  # tests may inject an httpx transport (e.g. MockTransport)
        self.last_stats: dict[str, int] = {}

    def __repr__(self) -> str:  # never shows the key (it is not stored anyway)
        return f"HttpJudge(url={self.url!r}, model={self.model!r}, mode={self.mode!r})"

    # ---- public -----------------------------------------------------------------------

    def judge(self, images: torch.Tensor, prompts: Sequence[Prompt]) -> list[Judgment]:
        """One Judgment per image, in order. Raises UnigapError only if the server is unreachable."""
        if len(images) != len(prompts):
            raise UnigapError(f"http judge: {len(images)} images but {len(prompts)} prompts")
        if len(prompts) == 0:
            return []
        arrays = images.cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
        return _run_sync(self._judge_all(arrays, list(prompts)))

    # ---- request building --------------------------------------------------------------

    def messages(self, image: np.ndarray, prompt: Prompt) -> list[dict]:
        url = {"type": "image_url", "image_url": {"url": image_data_url(image)}}
        if not self.system_turn:
            return [{"role": "user", "content": [url, {"type": "text", "text": full_question(prompt.text)}]}]
        return [{"role": "system", "content": SYSTEM_TEXT},
                {"role": "user", "content": [url, {"type": "text", "text": question(prompt.text)}]}]

    def payload(self, image: np.ndarray, prompt: Prompt) -> dict:
        body = {"model": self.model, "messages": self.messages(image, prompt), "temperature": 0,
                "max_tokens": self.max_tokens}
        if self.mode == "prob":
            body.update(logprobs=True, top_logprobs=self.top_logprobs)
        return body

    def _headers(self) -> tuple[dict[str, str], str | None]:
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if self.api_key_env and not key:
            raise UnigapError(f"http judge: environment variable {self.api_key_env} (api_key_env) is not set")
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers, key

    # ---- batch ---------------------------------------------------------------------------

    async def _judge_all(self, images: np.ndarray, prompts: list[Prompt]) -> list[Judgment]:
        import httpx

        headers, key = self._headers()
        state = _BatchState(sem=asyncio.Semaphore(self.concurrency))
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        async with httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(self.timeout_s), limits=limits,
                                     transport=self._transport) as client:
            tasks = [asyncio.create_task(self._one(client, state, img, p)) for img, p in zip(images, prompts)]
            try:
                results = await asyncio.gather(*tasks)
            except _Unreachable as err:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                self.last_stats = {"requests": state.requests, "retries": state.retries}
                raise UnigapError(_mask(f"http judge: {self.url} is unreachable: no request of this batch of "
                                        f"{len(prompts)} got a response ({err}); is the server running?", key)) from None
        self.last_stats = {"requests": state.requests, "retries": state.retries}
        return [_mask_judgment(j, key) for j in results]

    async def _one(self, client: "httpx.AsyncClient", state: _BatchState, image: np.ndarray,
                   prompt: Prompt) -> Judgment:
        # The slot is held for the item's whole life, retry sleeps included: at most
        # `concurrency` request bodies (base64 PNGs) exist at once, and a server that asks us to
        # back off (429/5xx) sees fewer requests rather than the same number, later.
        async with state.sem:
            reply, attempts = await self._with_retries(client, state, json.dumps(self.payload(image, prompt)))
        if reply.data is not None:
            return self.to_judgment(reply.data)
        if reply.connect_error and not state.responded:
            raise _Unreachable(reply.error)
        tries = f" after {attempts} attempts" if reply.retry else ""
        return Judgment(None, None, "", "failed", f"{reply.error}{tries}")

    async def _with_retries(self, client: "httpx.AsyncClient", state: _BatchState, body: str) -> tuple[_Reply, int]:
        reply = _Reply()
        for attempt in range(self.max_retries + 1):
            if attempt:
                state.retries += 1
                await asyncio.sleep(self.delay(attempt, reply.retry_after))
            state.requests += 1
            reply = await self._attempt(client, state, body)
            if not reply.retry:
                break
        return reply, attempt + 1

    async def _attempt(self, client: "httpx.AsyncClient", state: _BatchState, body: str) -> _Reply:
        import httpx

        try:
            resp = await client.post(self.url, content=body)
        except (httpx.ConnectError, httpx.ConnectTimeout) as err:
            return _Reply(error=f"cannot connect: {type(err).__name__}: {err}", retry=True, connect_error=True)
        except httpx.TimeoutException as err:
            return _Reply(error=f"timed out after {self.timeout_s:g} s ({type(err).__name__})", retry=True)
        except httpx.TransportError as err:
            return _Reply(error=f"network error: {type(err).__name__}: {err}", retry=True)
        state.responded = True
        return self._classify(resp)

    def _classify(self, resp: "httpx.Response") -> _Reply:
        code = resp.status_code
        if code >= 500 or code in RETRY_STATUS:
            return _Reply(error=error_message(resp), retry=True, retry_after=parse_retry_after(resp.headers.get("retry-after")))
        if code >= 400:
            return _Reply(error=error_message(resp))
        try:
            data = resp.json()
        except ValueError:
            return _Reply(error=f"invalid response: not JSON (HTTP {code}): {resp.text[:200]!r}")
        return _Reply(data=data) if isinstance(data, dict) else _Reply(error="invalid response: JSON is not an object")

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before retry `attempt` (1-based): Retry-After if given, else capped exponential
        backoff with 'equal jitter' (half fixed, half random) so that clients spread out."""
        if retry_after is not None:
            return min(retry_after, self.backoff_max)
        d = min(self.backoff * 2 ** (attempt - 1), self.backoff_max)
        return d / 2 + self._rng.uniform(0, d / 2)

    # ---- answers -------------------------------------------------------------------------

    def to_judgment(self, data: dict) -> Judgment:
        try:
            text = answer_text(data)
        except ValueError as err:
            return Judgment(None, None, json.dumps(data)[:MAX_ERROR_CHARS], "failed", f"invalid response: {err}")
        if self.mode == "prob":
            p = score_prob(data)
            if p is not None:
                return Judgment(int(p > self.threshold), p, text)
            self._warn_no_logprobs()
        v = parse_verdict(text)  # parse mode has no probability: prob stays None
        return Judgment(v, None, text, "ok" if v is not None else "unparsed")

    def _warn_no_logprobs(self) -> None:
        if not self._warned_no_logprobs:
            log.warning("http judge %s: the server returned no usable logprobs for the score token; "
                        "falling back to parsing the answer text (prob stays empty)", self.model)
            self._warned_no_logprobs = True


def _mask(text: str | None, key: str | None) -> str | None:
    """Replace the API key in text (servers sometimes echo it in 401 messages)."""
    if text is None or not key:
        return text
    return text.replace(key, "***")


def _mask_judgment(j: Judgment, key: str | None) -> Judgment:
    if not key or (key not in j.raw and key not in (j.error or "")):
        return j
    return Judgment(j.verdict, j.prob, _mask(j.raw, key) or "", j.status, _mask(j.error, key))
