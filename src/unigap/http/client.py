"""An async JSON-over-HTTP client with the failure policy unigap's HTTP users share.

- bounded concurrency: at most `concurrency` items in flight, each holding its slot through its
  retries (a server that asks us to back off sees fewer requests, not the same number later);
- per-request timeouts;
- retries on 429, 408, 409, 5xx, network errors and timeouts, up to `max_retries` extra attempts,
  with capped exponential backoff and "equal jitter"; a Retry-After header is honoured (capped);
- no retry on other 4xx: the item fails with the server's own message;
- connection errors before any response of the batch: at most CONNECT_RETRIES retries, then
  `Unreachable` (a dead port fails in seconds);
- `fatal_status` (e.g. 404 for a missing route): the first such answer raises `RouteError`
  naming the URL and stops the batch (no request storm against an endpoint that is not there);
- the API key is read from the environment variable named by `api_key_env` when a batch starts;
  it is never stored on the client and is masked (`***`) in every message that leaves it.

`sleep` is injectable (tests pass a recorder so that they never wait on backoff).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from unigap.errors import UnigapError

if TYPE_CHECKING:
    import httpx

RETRY_STATUS = frozenset({408, 409, 429})  # plus every 5xx; 408/409 are transient by definition
# Before anything has answered, connection errors (a dead port, a wrong host) are retried at most this many
# times: a server that is not there fails the batch within seconds, not after the full backoff schedule.
CONNECT_RETRIES = 2
MAX_ERROR_CHARS = 500
Sleep = Callable[[float], Awaitable[None]]


class RouteError(UnigapError):
    """The server answered a `fatal_status` (the route does not exist there): stop, do not retry."""


class Unreachable(Exception):
    """No request of the batch got an HTTP response and an item ran out of retries on connection errors."""


@dataclass
class Reply:
    """One attempt's outcome: `data` (parsed JSON of a 2xx) or an error, and whether to retry."""

    data: Any = None
    error: str | None = None
    retry: bool = False
    retry_after: float | None = None
    connect_error: bool = False
    status: int | None = None


@dataclass
class Stats:
    """Counts of one batch (requests sent, retries among them) and whether anything answered."""

    requests: int = 0
    retries: int = 0
    responded: bool = False
    delays: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"requests": self.requests, "retries": self.retries}


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


def error_message(resp: httpx.Response) -> str:
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


def mask(text: str | None, key: str | None) -> str | None:
    """Replace the API key in text (servers sometimes echo it in 401 messages)."""
    if text is None or not key:
        return text
    return text.replace(key, "***")


def run_sync(coro: Any) -> Any:
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


class HttpClient:
    """Settings and policy; `session()` opens one batch (an httpx.AsyncClient and its counters).

    who: names the user in messages ("http judge", "served model"); the other arguments as in
    the module docstring. `transport`: an httpx transport to use instead of the network (tests).
    """

    def __init__(
        self,
        who: str,
        concurrency: int = 8,
        timeout_s: float = 120.0,
        max_retries: int = 4,
        backoff: float = 1.0,
        backoff_max: float = 30.0,
        api_key_env: str | None = None,
        seed: int | None = None,
        fatal_status: Collection[int] = (),
        sleep: Sleep | None = None,
    ) -> None:
        if concurrency < 1 or max_retries < 0 or timeout_s <= 0:
            raise UnigapError(f"{who}: need concurrency >= 1, max_retries >= 0 and timeout_s > 0")
        self.who, self.concurrency, self.timeout_s, self.max_retries = who, concurrency, float(timeout_s), max_retries
        self.backoff, self.backoff_max, self.api_key_env = float(backoff), float(backoff_max), api_key_env
        self.fatal_status = frozenset(fatal_status)
        self.sleep: Sleep = sleep or asyncio.sleep
        self.transport: Any = None
        self._rng = random.Random(seed)  # jitter only; seeded for reproducible test timing
        self.last_stats: dict[str, int] = {}

    def __repr__(self) -> str:  # never shows a key (none is stored)
        return f"HttpClient({self.who!r}, concurrency={self.concurrency}, api_key_env={self.api_key_env!r})"

    def headers(self) -> tuple[dict[str, str], str | None]:
        """Request headers and the key (for masking); raises before any request if the env var is unset."""
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if self.api_key_env and not key:
            raise UnigapError(f"{self.who}: environment variable {self.api_key_env} (api_key_env) is not set")
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers, key

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before retry `attempt` (1-based): Retry-After if given, else capped exponential
        backoff with equal jitter (half fixed, half random) so that clients spread out."""
        if retry_after is not None:
            return min(retry_after, self.backoff_max)
        d = min(self.backoff * 2 ** (attempt - 1), self.backoff_max)
        return d / 2 + self._rng.uniform(0, d / 2)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[HttpSession]:
        import httpx

        headers, key = self.headers()
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        async with httpx.AsyncClient(
            headers=headers, timeout=httpx.Timeout(self.timeout_s), limits=limits, transport=self.transport
        ) as client:
            s = HttpSession(self, client, key)
            try:
                yield s
            finally:
                self.last_stats = s.stats.as_dict()


class HttpSession:
    """One batch: posts JSON with the client's policy; counts in `stats`."""

    def __init__(self, owner: HttpClient, client: httpx.AsyncClient, key: str | None) -> None:
        self.owner, self.client, self.key = owner, client, key
        self.stats = Stats()
        self.sem = asyncio.Semaphore(owner.concurrency)
        self.stopped: RouteError | None = None  # after a fatal status nothing more is sent

    def mask(self, text: str | None) -> str | None:
        return mask(text, self.key)

    async def post(self, url: str, body: dict | str | Callable[[], dict | str]) -> tuple[Reply, int]:
        """POST with retries, holding one concurrency slot throughout; (final reply, attempts).

        `body` may be a callable: it is built inside the slot, so at most `concurrency` bodies
        (e.g. base64 images) exist at once. Raises RouteError on a fatal status, Unreachable if
        nothing in the batch ever answered and this item exhausted its retries on connection errors."""
        async with self.sem:
            if self.stopped is not None:
                raise self.stopped
            made = body() if callable(body) else body
            content = made if isinstance(made, str) else json.dumps(made)
            reply, attempts = await self._with_retries(url, content)
        if reply.connect_error and reply.retry and not self.stats.responded:
            raise Unreachable(reply.error)
        if reply.error is not None:
            reply.error = self.mask(reply.error)
        return reply, attempts

    async def _with_retries(self, url: str, content: str) -> tuple[Reply, int]:
        reply, attempt = Reply(), 0
        for attempt in range(self.owner.max_retries + 1):
            if attempt:
                self.stats.retries += 1
                wait = self.owner.delay(attempt, reply.retry_after)
                self.stats.delays.append(wait)
                await self.owner.sleep(wait)
            self.stats.requests += 1
            reply = await self._attempt(url, content)
            if reply.status in self.owner.fatal_status:
                self.stopped = self.stopped or RouteError(
                    self.mask(
                        f"{self.owner.who}: {url} answered {reply.error}; is this the right base URL, and does the "
                        f"server offer this endpoint?"
                    )
                )
                raise self.stopped
            if not reply.retry:
                break
            nothing_answered = reply.connect_error and not self.stats.responded
            if nothing_answered and attempt >= min(self.owner.max_retries, CONNECT_RETRIES):
                break  # nothing ever answered: unreachable, fail fast (post raises Unreachable)
        return reply, attempt + 1

    async def _attempt(self, url: str, content: str) -> Reply:
        import httpx

        try:
            resp = await self.client.post(url, content=content)
        except (httpx.ConnectError, httpx.ConnectTimeout) as err:
            return Reply(error=f"cannot connect: {type(err).__name__}: {err}", retry=True, connect_error=True)
        except httpx.TimeoutException as err:
            return Reply(error=f"timed out after {self.owner.timeout_s:g} s ({type(err).__name__})", retry=True)
        except httpx.TransportError as err:
            return Reply(error=f"network error: {type(err).__name__}: {err}", retry=True)
        self.stats.responded = True
        return classify(resp)


def classify(resp: httpx.Response) -> Reply:
    """An HTTP response -> Reply: retryable status, other 4xx, non-JSON body, or the parsed object."""
    code = resp.status_code
    if code >= 500 or code in RETRY_STATUS:
        return Reply(
            error=error_message(resp),
            retry=True,
            status=code,
            retry_after=parse_retry_after(resp.headers.get("retry-after")),
        )
    if code >= 400:
        return Reply(error=error_message(resp), status=code)
    try:
        data = resp.json()
    except ValueError:
        return Reply(error=f"invalid response: not JSON (HTTP {code}): {resp.text[:200]!r}", status=code)
    if not isinstance(data, dict):
        return Reply(error="invalid response: JSON is not an object", status=code)
    return Reply(data=data, status=code)


async def gather_or_cancel(coros: list[Awaitable[Any]]) -> list[Any]:
    """asyncio.gather that cancels (and awaits) the siblings when one raises, then re-raises."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
