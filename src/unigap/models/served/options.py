"""`model.options` of `model.name: served` (typed; unknown keys are an error). Imports nothing heavy."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from unigap.config import Config


class ServedOptions(Config):
    """Where the model is served and how hard to try.

    Images: POST `{base_url}/v1/images/generations` with `model`, `prompt`, `n`, `size`,
    `response_format: b64_json` and (when `seed_per_candidate`) one request per candidate with
    its `seed` (the stored candidate seed mod 2^31; servers that ignore `seed` still work, but
    candidates are then not reproducible). Answers: POST `{chat_base_url}/v1/chat/completions`
    with the image as a PNG data URL. `model` None = `model.path`; `chat_*` None = the images'.
    `extra_body` is merged into every images request (e.g. vLLM-Omni's `num_inference_steps`).
    """

    base_url: str = "http://127.0.0.1:8000"
    model: str | None = None
    size: str = Field("1024x1024", pattern=r"^\d+x\d+$")
    seed_per_candidate: bool = True
    extra_body: dict[str, Any] = {}
    chat_base_url: str | None = None
    chat_model: str | None = None
    system_turn: bool = True  # False: one user turn (servers that reject system messages)
    api_key_env: str | None = None  # env var holding the key; never stored
    chat_api_key_env: str | None = None
    concurrency: int = Field(4, ge=1)
    timeout_s: float = Field(300.0, gt=0)
    max_retries: int = Field(3, ge=0)
    backoff: float = Field(1.0, ge=0)
    backoff_max: float = Field(30.0, ge=0)
    max_refills: int = Field(2, ge=0)  # rounds of re-requesting images a server did not return
