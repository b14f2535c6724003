"""Shared HTTP machinery for OpenAI-compatible servers: the `http` judge and the `served` backend."""

from unigap.http.client import (
    HttpClient,
    HttpSession,
    Reply,
    RouteError,
    Stats,
    error_message,
    mask,
    parse_retry_after,
    run_sync,
)

__all__ = [
    "HttpClient",
    "HttpSession",
    "Reply",
    "RouteError",
    "Stats",
    "error_message",
    "mask",
    "parse_retry_after",
    "run_sync",
]
