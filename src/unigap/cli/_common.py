"""Helpers shared by CLI commands: rich progress bars and tables."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

out = Console()


@contextmanager
def progress_bar() -> Iterator[Progress]:
    cols = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    ]
    with Progress(*cols, console=Console(stderr=True), transient=False) as bar:
        yield bar


EVERY_ENV = "UNIGAP_PROGRESS_EVERY"  # seconds between progress lines without a terminal (default 5)


class RichBar:
    """The stages' Bar protocol (start(stage, total, done), advance(n), update(done)) on a rich progress display."""

    def __init__(self, progress: Progress) -> None:
        self.progress, self.task = progress, None

    def start(self, stage: str, total: int | None, done: int = 0) -> None:
        if done:
            self.progress.console.print(f"{stage}: resuming, {done} of {total} already done")
        self.task = self.progress.add_task(stage, total=total, completed=done)

    def advance(self, n: int) -> None:
        self.progress.advance(self.task, n)

    def update(self, done: int, stage: str | None = None) -> None:
        self.progress.update(self.task, completed=done, **({"description": stage} if stage else {}))


class LineBar:
    """The Bar protocol without a terminal (output redirected to a file, CI): one line every few seconds,
    "stage: done/total (pct), rate/s, ETA", and a line when a stage starts resumed and when it ends."""

    def __init__(self, console: Console, every: float | None = None) -> None:
        self.console = console
        self.every = float(os.environ.get(EVERY_ENV, 5.0)) if every is None else every
        self.stage, self.total, self.done, self.start_done = "", None, 0, 0
        self.t0 = self.last = time.monotonic()

    def start(self, stage: str, total: int | None, done: int = 0) -> None:
        self._finish()
        self.stage, self.total, self.done, self.start_done = stage, total, done, done
        self.t0 = self.last = time.monotonic()
        if done:
            self._print(f"{stage}: resuming, {done} of {total} already done")
        elif total == 0:
            self._print(f"{stage}: nothing to do")

    def advance(self, n: int) -> None:
        self.update(self.done + n)

    def update(self, done: int, stage: str | None = None) -> None:
        self.done, self.stage = done, stage or self.stage
        now = time.monotonic()
        if self.total and self.done >= self.total:
            self._finish()
            self.start_done = self.done  # finished: nothing more to say about this stage
        elif now - self.last >= self.every:
            self.last = now
            self._print(self.line(now))

    def line(self, now: float) -> str:
        rate = (self.done - self.start_done) / max(now - self.t0, 1e-9)
        if not self.total:
            return f"{self.stage}: {self.done} done, {rate:.1f}/s"
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta = "?" if left == float("inf") else _duration(left)
        return f"{self.stage}: {self.done}/{self.total} ({100 * self.done / self.total:.0f} %), {rate:.1f}/s, ETA {eta}"

    def _finish(self) -> None:
        if self.stage and self.total and self.done > self.start_done:
            self._print(f"{self.stage}: {self.done}/{self.total} done in {_duration(time.monotonic() - self.t0)}")

    def close(self) -> None:
        self._finish()
        self.stage = ""

    def _print(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


@contextmanager
def stage_progress() -> Iterator[RichBar | LineBar]:
    """A Bar for the stages: rich bars on a terminal, plain progress lines otherwise."""
    err = Console(stderr=True)
    if err.is_terminal:
        with progress_bar() as bar:
            yield RichBar(bar)
        return
    line = LineBar(err)
    try:
        yield line
    finally:
        line.close()


def write_json(path: str | Path, data: Any) -> None:
    from unigap.files import write_json as write

    write(path, data)


DryRun = Annotated[
    bool,
    typer.Option("--dry-run", help="Validate the config and every input, print the effective config, write nothing"),
]
AddPrompts = Annotated[
    bool,
    typer.Option(
        "--add-prompts",
        help="Continue a run whose prompts changed: audit only the added ones (removed ones stay stored "
        "but leave this run's metrics; a prompt whose text changed is always refused)",
    ),
]
Yes = Annotated[
    bool,
    typer.Option(
        "--yes", help="Start a very large job (its size and estimated time are printed and it is refused without --yes)"
    ),
]
AllowPartial = Annotated[
    bool,
    typer.Option(
        "--allow-partial", help="Use an input whose producing stage did not finish (what is missing is recorded)"
    ),
]


def read_json(path: str | Path, fix: str = "") -> Any:
    """JSON of a file the CLI reads; an error naming the file (and the command that rewrites it) if it is
    missing or cut short."""
    from unigap.files import read_json as read

    return read(path, fix)


def renamed_option(old: str, new: str, value: Any, current: Any, default: Any) -> Any:
    """A command-line option given under its old name: a FutureWarning naming the new one, and its value
    (an error if both are given)."""
    import warnings

    from unigap.errors import ConfigError

    if value is None:
        return current
    if current != default:
        raise ConfigError(f"{old} and {new} are both given; {old} is the old name of {new}: keep only {new}")
    warnings.warn(
        f"{old} is now {new} (the old name still works, for now; a later unigap will refuse it)",
        FutureWarning,
        stacklevel=2,
    )
    return value


def print_config(cfg: Any, title: str = "effective config") -> None:
    """The effective config (defaults <- file <- overrides) as YAML: what the run would store."""
    from unigap.config import to_yaml

    out.print(f"# {title}")
    out.print(to_yaml(cfg), markup=False, highlight=False)
