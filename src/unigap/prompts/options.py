"""Typed options of the built-in prompt suites (`prompts.options:` in configs); light to import."""

from __future__ import annotations

from unigap.config import Config, seed_field


class ShapeWorldOptions(Config):
    seed: int = seed_field()  # the world's spec sampler seed (train/eval splits are disjoint for every seed)


class FileOptions(Config):
    """Suites read from a benchmark file; `path` = the official prompt file (see `unigap prompts show`)."""

    path: str | None = None


class CustomOptions(FileOptions):
    subtask: str | None = None  # .txt files: the subtask of every line (default: the file's stem)


class Paper9Options(Config):
    """The paper's nine subtasks: each benchmark's official prompt file."""

    geneval: str | None = None
    t2i_compbench: str | None = None
    science_t2i: str | None = None
