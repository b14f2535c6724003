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

The transport policy (concurrency, timeouts, retries, Retry-After, key handling) is
`unigap.http.HttpClient`, shared with the `served` model backend.
"""

from __future__ import annotations

import base64
import json
import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from unigap.errors import UnigapError
from unigap.http import HttpClient, HttpSession, mask, parse_retry_after, run_sync
from unigap.http.client import MAX_ERROR_CHARS, Unreachable, gather_or_cancel
from unigap.records import Judgment, Prompt
from unigap.verdict import ANSWER_PREFIX, SYSTEM_TEXT, full_question, judgment_from_answer, question

if TYPE_CHECKING:
    from unigap.judges.base import JudgeConfig
    from unigap.judges.options import HttpOptions

log = logging.getLogger(__name__)
__all__ = ["HttpJudge", "answer_text", "endpoint_url", "image_data_url", "parse_retry_after", "score_prob"]


def image_data_url(image: np.ndarray) -> str:
    """(H, W, 3) uint8 -> `data:image/png;base64,...`."""
    from unigap.files import encode_png

    return "data:image/png;base64," + base64.b64encode(encode_png(np.ascontiguousarray(image, dtype=np.uint8))).decode(
        "ascii"
    )


def endpoint_url(base_url: str) -> str:
    """Accept `http://h:8000`, `http://h:8000/v1` or the full `.../chat/completions` URL."""
    url = base_url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    return url + ("/chat/completions" if url.endswith("/v1") else "/v1/chat/completions")


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

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        model: str = "Qwen/Qwen2.5-VL-72B-Instruct",
        api_key_env: str | None = None,
        concurrency: int = 8,
        timeout_s: float = 120.0,
        max_retries: int = 4,
        backoff: float = 1.0,
        backoff_max: float = 30.0,
        max_tokens: int = 32,
        mode: Literal["parse", "prob"] = "parse",
        top_logprobs: int = 5,
        threshold: float = 0.5,
        system_turn: bool = True,
        seed: int | None = None,
    ) -> None:
        if mode not in ("parse", "prob"):
            raise UnigapError(f"http judge: mode must be 'parse' or 'prob', not {mode!r}")
        self.http = HttpClient(
            "http judge", concurrency, timeout_s, max_retries, backoff, backoff_max, api_key_env, seed
        )
        self.name = f"http:{model}"
        self.url, self.model, self.max_tokens = endpoint_url(base_url), model, max_tokens
        self.mode, self.top_logprobs, self.threshold, self.system_turn = mode, top_logprobs, threshold, system_turn
        self._warned_no_logprobs = False

    def __repr__(self) -> str:  # never shows the key (it is not stored anyway)
        return f"HttpJudge(url={self.url!r}, model={self.model!r}, mode={self.mode!r})"

    @property
    def _transport(self) -> Any:  # tests inject an httpx transport (e.g. MockTransport)
        return self.http.transport

    @_transport.setter
    def _transport(self, value: Any) -> None:
        self.http.transport = value

    @property
    def last_stats(self) -> dict[str, int]:
        return self.http.last_stats

    def delay(self, attempt: int, retry_after: float | None) -> float:
        return self.http.delay(attempt, retry_after)

    # ---- public -----------------------------------------------------------------------

    def judge(self, images: torch.Tensor, prompts: Sequence[Prompt]) -> list[Judgment]:
        """One Judgment per image, in order. Raises UnigapError only if the server is unreachable."""
        if len(images) != len(prompts):
            raise UnigapError(f"http judge: {len(images)} images but {len(prompts)} prompts")
        if len(prompts) == 0:
            return []
        arrays = images.cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
        return run_sync(self._judge_all(arrays, list(prompts)))

    def check_reachable(self, timeout_s: float = 3.0) -> None:
        """Before anything is generated: a TCP connection to the server must open (a dead port or a wrong host
        is refused at validation, not after the audit generated every image). Skipped with an injected transport."""
        import socket
        from urllib.parse import urlsplit

        if self.http.transport is not None:
            return
        parts = urlsplit(self.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((parts.hostname, port), timeout=timeout_s).close()
        except OSError as err:
            raise UnigapError(
                f"http judge: cannot connect to {parts.hostname}:{port} ({self.url}): {err}; is the "
                "server running and the base_url right?"
            ) from None

    # ---- request building --------------------------------------------------------------

    def messages(self, image: np.ndarray, prompt: Prompt) -> list[dict]:
        url = {"type": "image_url", "image_url": {"url": image_data_url(image)}}
        if not self.system_turn:
            return [{"role": "user", "content": [url, {"type": "text", "text": full_question(prompt.text)}]}]
        return [
            {"role": "system", "content": SYSTEM_TEXT},
            {"role": "user", "content": [url, {"type": "text", "text": question(prompt.text)}]},
        ]

    def payload(self, image: np.ndarray, prompt: Prompt) -> dict:
        body = {
            "model": self.model,
            "messages": self.messages(image, prompt),
            "temperature": 0,
            "max_tokens": self.max_tokens,
        }
        if self.mode == "prob":
            body.update(logprobs=True, top_logprobs=self.top_logprobs)
        return body

    # ---- batch ---------------------------------------------------------------------------

    async def _judge_all(self, images: np.ndarray, prompts: list[Prompt]) -> list[Judgment]:
        async with self.http.session() as s:
            try:
                results = await gather_or_cancel([self._one(s, img, p) for img, p in zip(images, prompts)])
            except Unreachable as err:
                raise UnigapError(
                    s.mask(
                        f"http judge: {self.url} is unreachable: no request of this batch of "
                        f"{len(prompts)} got a response ({err}); is the server running?"
                    )
                ) from None
            return [_mask_judgment(j, s.key) for j in results]

    async def _one(self, s: HttpSession, image: np.ndarray, prompt: Prompt) -> Judgment:
        # The body (a base64 PNG) is built inside the slot: at most `concurrency` exist at once.
        reply, attempts = await s.post(self.url, lambda: self.payload(image, prompt))
        if reply.data is not None:
            return self.to_judgment(reply.data)
        tries = f" after {attempts} attempts" if reply.retry else ""
        return Judgment(None, None, "", "failed", f"{reply.error}{tries}")

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
        return judgment_from_answer(text)  # parse mode has no probability: prob stays None

    def _warn_no_logprobs(self) -> None:
        if not self._warned_no_logprobs:
            log.warning(
                "http judge %s: the server returned no usable logprobs for the score token; "
                "falling back to parsing the answer text (prob stays empty)",
                self.model,
            )
            self._warned_no_logprobs = True


def _mask_judgment(j: Judgment, key: str | None) -> Judgment:
    if not key or (key not in j.raw and key not in (j.error or "")):
        return j
    return Judgment(j.verdict, j.prob, mask(j.raw, key) or "", j.status, mask(j.error, key))


def http_judge(cfg: JudgeConfig, options: HttpOptions) -> HttpJudge:
    """The registry's factory of `judges: [{name: http}]`."""
    return HttpJudge(**options.model_dump())
