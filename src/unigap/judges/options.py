"""Typed options of the built-in judges (`judges: [{name, options}]` in configs); light to import."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from unigap.config import Config


class QwenOptions(Config):
    path: str = "Qwen/Qwen2.5-VL-7B-Instruct"  # hub id or local directory
    device: str | None = None  # None = cuda when available, else cpu
    dtype: str = "auto"
    batch_size: int = Field(8, ge=1)
    mode: Literal["parse", "prob"] = "parse"
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    max_new_tokens: int = Field(16, ge=1)
    min_pixels: int | None = Field(None, ge=1)
    max_pixels: int | None = Field(None, ge=1)
    system: str = "You are a helpful assistant."  # Qwen2.5-VL's default chat-template system turn


class HttpOptions(Config):
    base_url: str = "http://127.0.0.1:8000"
    model: str = "Qwen/Qwen2.5-VL-72B-Instruct"
    api_key_env: str | None = None  # name of the environment variable holding the key (never stored)
    concurrency: int = Field(8, ge=1)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(4, ge=0)
    backoff: float = Field(1.0, ge=0)
    backoff_max: float = Field(30.0, ge=0)
    max_tokens: int = Field(32, ge=1)
    mode: Literal["parse", "prob"] = "parse"
    top_logprobs: int = Field(5, ge=1)
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    system_turn: bool = True
    seed: int | None = None
