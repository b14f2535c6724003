"""`model.name: served`: audit a model that only runs behind HTTP (BAGEL, BLIP3-o, VILA-U behind
vLLM-Omni or any OpenAI-compatible server).

Images come from `/v1/images/generations` (b64_json), answers from `/v1/chat/completions` with
the image; the transport policy is `unigap.http.HttpClient` (shared with the http judge). There
are no local weights or image tokens: tokens are (B, 0), and every training hook refuses with
a clear message (`unigap improve` needs a local backend).

Per candidate: an image that does not decode is a failed row (`ServedGeneration.errors[i]`
holds the reason, the image is a black placeholder of the requested size); images a server
did not return (fewer than `n`, or an empty `data`) are requested again, at most `max_refills`
rounds; what is still missing then is a failed row too. The audit stores failed rows with their
reason and turns `record_failures` on while it generates (unigap.audit.runner.recording_failures);
for any other caller a batch with failed rows raises rather than pass placeholders for images.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from unigap.errors import UnigapError
from unigap.http import HttpClient, HttpSession, run_sync
from unigap.http.client import Unreachable, gather_or_cancel
from unigap.models.base import Generation, ModelConfig, SamplingConfig, SelfJudgeConfig, UnifiedModel
from unigap.models.served.options import ServedOptions
from unigap.records import Judgment, Prompt

log = logging.getLogger(__name__)
SEED_MOD = 2**31
NO_WEIGHTS = (
    "model.name: served has no local weights ({what}); `unigap improve` and other training need a "
    "local backend (tiny, janus, emu3, showo): the served model can only be audited"
)


@dataclass
class ServedGeneration(Generation):
    """Generation (whose `errors` say, per row, None or why the candidate failed) plus the bytes as the server
    sent them."""

    raw: list[bytes | None] = field(default_factory=list)


@dataclass
class _Want:
    """Candidates of one request: rows (indices into the batch), prompt, seed (or None)."""

    rows: list[int]
    prompt: str
    seed: int | None


def images_url(base_url: str) -> str:
    url = base_url.rstrip("/")
    if url.endswith("/images/generations"):
        return url
    return url + ("/images/generations" if url.endswith("/v1") else "/v1/images/generations")


def decode_b64_image(item: Any) -> tuple[np.ndarray, bytes]:
    """One `data[i]` entry -> ((H, W, 3) uint8, the bytes as sent); ValueError with the reason."""
    from PIL import Image, UnidentifiedImageError

    if not isinstance(item, dict) or not isinstance(item.get("b64_json"), str):
        keys = sorted(item) if isinstance(item, dict) else type(item).__name__
        raise ValueError(
            f"no b64_json in the response item (got {keys}); the request asks for response_format b64_json"
        )
    try:
        data = base64.b64decode(item["b64_json"], validate=True)
        with Image.open(io.BytesIO(data)) as img:
            return np.asarray(img.convert("RGB"), dtype=np.uint8).copy(), data
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError) as err:
        raise ValueError(f"image does not decode: {type(err).__name__}: {err}") from None


class ServedBackend(UnifiedModel):
    name = "served"
    num_image_tokens = 0  # no image tokens cross this boundary
    trainable = False  # no weights: training refuses (see NO_WEIGHTS)

    def __init__(self, options: ServedOptions, model_name: str) -> None:
        o = options
        self.options, self.model_name = o, model_name
        self.chat_model = o.chat_model or model_name
        self.url = images_url(o.base_url)
        from unigap.judges.http import endpoint_url

        self.chat_url = endpoint_url(o.chat_base_url or o.base_url)
        w, h = (int(v) for v in o.size.split("x"))
        self.size = (h, w)
        self.images_http = HttpClient(
            "served model (images)",
            o.concurrency,
            o.timeout_s,
            o.max_retries,
            o.backoff,
            o.backoff_max,
            o.api_key_env,
            fatal_status=(404, 405),
        )
        self.chat_http = HttpClient(
            "served model (chat)",
            o.concurrency,
            o.timeout_s,
            o.max_retries,
            o.backoff,
            o.backoff_max,
            o.chat_api_key_env or o.api_key_env,
            fatal_status=(404, 405),
        )
        self.last_stats: dict[str, int] = {}
        # True while a caller stores failed rows (Generation.errors) with their reason: the audit sets it
        # (unigap.audit.runner.recording_failures). Otherwise a batch with failed rows raises instead of
        # letting placeholder images pass for candidates.
        self.record_failures = False

    def __repr__(self) -> str:
        return f"ServedBackend(images={self.url!r}, chat={self.chat_url!r}, model={self.model_name!r})"

    # --- generation -------------------------------------------------------------------
    def generate(self, prompts: Sequence[str], seeds: Sequence[int], sampling: SamplingConfig) -> ServedGeneration:
        """One image per row; sampling settings are the server's (only the seed is sent)."""
        if len(prompts) != len(seeds):
            raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
        got: dict[int, tuple[np.ndarray, bytes] | str] = {}
        if prompts:
            run_sync(self._generate_all(list(prompts), list(seeds), got))
        gen = self._assemble(len(prompts), got)
        failed = [(i, e) for i, e in enumerate(gen.errors) if e is not None]
        if failed and not self.record_failures:
            lines = "; ".join(f"row {i} ({prompts[i][:40]!r}, seed {seeds[i]}): {e}" for i, e in failed[:5])
            raise UnigapError(
                f"served model: {len(failed)} of {len(prompts)} candidates failed ({lines}); outside "
                "the audit, which stores failed candidates, a failed candidate stops the batch"
            )
        return gen

    def wants(self, prompts: list[str], seeds: list[int], rows: list[int]) -> list[_Want]:
        """Requests for `rows`: one per candidate with its seed, or one per prompt with n = its count."""
        if self.options.seed_per_candidate:
            return [_Want([i], prompts[i], seeds[i] % SEED_MOD) for i in rows]
        by_prompt: dict[str, list[int]] = {}
        for i in rows:
            by_prompt.setdefault(prompts[i], []).append(i)
        return [_Want(r, p, None) for p, r in by_prompt.items()]

    async def _generate_all(self, prompts: list[str], seeds: list[int], got: dict) -> None:
        missing = list(range(len(prompts)))
        async with self.images_http.session() as s:
            for round_ in range(self.options.max_refills + 1):
                try:
                    await gather_or_cancel([self._request(s, w, got) for w in self.wants(prompts, seeds, missing)])
                except Unreachable as err:
                    raise UnigapError(
                        s.mask(f"served model: {self.url} is unreachable ({err}); is the server running?")
                    ) from None
                missing = [i for i in missing if i not in got]
                if not missing:
                    break
                if round_ < self.options.max_refills:
                    log.warning("served model: %d image(s) not returned; requesting them again", len(missing))
            for i in missing:
                got[i] = f"the server returned no image after {self.options.max_refills + 1} request rounds"
        self.last_stats = self.images_http.last_stats

    def payload(self, w: _Want) -> dict[str, Any]:
        body = {
            **self.options.extra_body,
            "model": self.model_name,
            "prompt": w.prompt,
            "n": len(w.rows),
            "size": self.options.size,
            "response_format": "b64_json",
        }
        if w.seed is not None:
            body["seed"] = w.seed
        return body

    async def _request(self, s: HttpSession, w: _Want, got: dict) -> None:
        reply, attempts = await s.post(self.url, self.payload(w))
        if reply.data is None:
            tries = f" after {attempts} attempts" if reply.retry else ""
            for i in w.rows:
                got[i] = f"{reply.error}{tries}"
            return
        items = reply.data.get("data")
        if not isinstance(items, list):
            for i in w.rows:
                got[i] = f"invalid response: no 'data' list (keys {sorted(reply.data)})"
            return
        for i, item in zip(w.rows, items):  # fewer items than rows: the rest stay missing (refilled)
            try:
                got[i] = decode_b64_image(item)
            except ValueError as err:
                got[i] = str(err)

    def _assemble(self, n: int, got: dict) -> ServedGeneration:
        images, errors, raw = [], [], []
        for i in range(n):
            v = got[i]
            if isinstance(v, str):
                images.append(np.zeros((*self.size, 3), dtype=np.uint8))
                errors.append(v)
                raw.append(None)
                log.warning("served model: candidate %d failed: %s", i, v)
            else:
                images.append(v[0])
                errors.append(None)
                raw.append(v[1])
        shapes = {im.shape for im in images}
        stacked: Any = (
            torch.from_numpy(np.stack(images)) if len(shapes) <= 1 else [torch.from_numpy(im) for im in images]
        )
        return ServedGeneration(torch.zeros((n, 0), dtype=torch.long), stacked, errors, raw)

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        raise UnigapError("model.name: served has no image tokens to decode; its images are stored as returned")

    # --- understanding ----------------------------------------------------------------
    def judge(self, images: torch.Tensor, prompts: Sequence[str], cfg: SelfJudgeConfig) -> list[Judgment]:
        """The paper's question to the served chat model (the http judge's request and parsing)."""
        from unigap.judges.http import HttpJudge

        j = HttpJudge(
            self.chat_url,
            self.chat_model,
            mode=cfg.mode,
            threshold=cfg.threshold,
            max_tokens=cfg.max_new_tokens,
            system_turn=self.options.system_turn,
        )
        j.http = self.chat_http
        recs = [Prompt(f"row{i}", p, "", "", "served") for i, p in enumerate(prompts)]
        return j.judge(images, recs)

    def answer(self, images: torch.Tensor, questions: Sequence[str], max_new_tokens: int = 16) -> list[str]:
        """Greedy (temperature 0) answers; a failed request gives an empty answer (logged)."""
        from unigap.judges.http import image_data_url

        def body(img: np.ndarray, q: str) -> dict:
            content = [{"type": "image_url", "image_url": {"url": image_data_url(img)}}, {"type": "text", "text": q}]
            return {
                "model": self.chat_model,
                "messages": [{"role": "user", "content": content}],
                "temperature": 0,
                "max_tokens": max_new_tokens,
            }

        arrays = images.cpu().numpy()
        return run_sync(self._answers([lambda a=a, q=q: body(a, q) for a, q in zip(arrays, questions)]))

    async def _answers(self, bodies: list) -> list[str]:
        from unigap.judges.http import answer_text

        async def one(s: HttpSession, b: Any) -> str:
            reply, _ = await s.post(self.chat_url, b)
            try:
                return answer_text(reply.data) if reply.data is not None else ""
            except ValueError:
                return ""

        async with self.chat_http.session() as s:
            return await gather_or_cancel([one(s, b) for b in bodies])

    # --- no weights here ----------------------------------------------------------------
    def image_logprobs(self, prompts: Sequence[str], tokens: torch.Tensor) -> torch.Tensor:
        raise UnigapError(NO_WEIGHTS.format(what="no image log-probabilities"))

    def module(self) -> Any:
        raise UnigapError(NO_WEIGHTS.format(what="no torch module"))

    def components(self) -> dict[str, list]:
        raise UnigapError(NO_WEIGHTS.format(what="no parameter groups"))

    def save(self, path: Any, merge_lora: bool = True, state_dict: Any = None) -> None:
        raise UnigapError(NO_WEIGHTS.format(what="nothing to save"))

    def fingerprint(self) -> dict[str, Any]:
        """What the store records: endpoints and model names (never a key), size, seeding."""
        return {
            "backend": "served",
            "images_url": self.url,
            "model": self.model_name,
            "chat_url": self.chat_url,
            "chat_model": self.chat_model,
            "size": self.options.size,
            "num_image_tokens": 0,
            "seed_per_candidate": self.options.seed_per_candidate,
            "seed_sent": f"candidate seed mod {SEED_MOD}",
            "extra_body": self.options.extra_body,
        }


def load_served(cfg: ModelConfig, options: ServedOptions | None = None) -> ServedBackend:
    options = options or ServedOptions.model_validate(getattr(cfg, "options", {}) or {})
    name = options.model or cfg.path
    if not name:
        from unigap.errors import ConfigError

        raise ConfigError("model.name: served needs the served model's name: model.path or model.options.model")
    return ServedBackend(options, name)
