"""Run the unigap CLI in child processes forked from a server that has already imported torch and unigap.

A fault-injection test kills dozens of CLI runs; a fresh `python -m unigap` pays ~2 s of imports each
time. multiprocessing's forkserver starts one clean server process (it never runs a torch op, so
forking it is safe), which imports `tests.faults._preload` once; every `cli()` call forks a child from
it that sets its environment, sends stdout/stderr to a file and runs `unigap.cli.main()` with argv:
the real CLI entry point in a real process, killable with SIGKILL like any other.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from dataclasses import dataclass
from pathlib import Path

_ctx = None


def _context():
    """The forkserver context, its server started with this process's sys.path (Python 3.11's forkserver
    ignores the sys_path it is handed, and a failed preload import is silently skipped)."""
    global _ctx
    if _ctx is None:
        from multiprocessing import forkserver

        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["tests.faults._preload"])
        saved = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        try:
            forkserver.ensure_running()
        finally:
            if saved is None:
                del os.environ["PYTHONPATH"]
            else:
                os.environ["PYTHONPATH"] = saved
        _ctx = ctx
    return _ctx


def _child(argv: list[str], env: dict[str, str], cwd: str, log: str) -> None:
    import time

    t0 = time.time()
    os.chdir(cwd)
    os.environ.update(env)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.argv = ["unigap", *argv]
    code = 0
    try:
        from unigap.cli import main

        main()
    except SystemExit as err:
        code = err.code if isinstance(err.code, int) else (0 if err.code is None else 1)
    except BaseException:  # noqa: BLE001 - a traceback is a finding: it goes to the log
        import traceback

        traceback.print_exc()
        code = 99
    if os.environ.get("UNIGAP_ZYGOTE_TIMES"):
        import resource
        import time

        r = resource.getrusage(resource.RUSAGE_SELF)
        print(f"[zygote] user {r.ru_utime:.2f} s, sys {r.ru_stime:.2f} s, wall {time.time() - t0:.2f} s")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@dataclass
class Result:
    code: int  # exit status; -9 = killed by SIGKILL
    output: str

    @property
    def killed(self) -> bool:
        return self.code == -9


def cli(
    argv: list,
    env: dict[str, str] | None = None,
    cwd: str | Path = ".",
    log: str | Path | None = None,
    timeout: float = 600,
) -> Result:
    """Run `unigap ARGV` in a forked child; its exit code and output (stdout + stderr)."""
    log = Path(log) if log else Path(cwd) / f".cli.{os.getpid()}.log"
    log.write_text("")
    p = _context().Process(target=_child, args=([str(a) for a in argv], dict(env or {}), str(cwd), str(log)))
    p.start()
    p.join(timeout)
    if p.is_alive():
        p.kill()
        p.join()
        raise TimeoutError(f"unigap {' '.join(map(str, argv))} ran over {timeout} s:\n{log.read_text()[-3000:]}")
    return Result(p.exitcode, log.read_text())


def _probe(q) -> None:
    q.put(("torch._dynamo" in sys.modules, "tests.faults._preload" in sys.modules, len(sys.modules)))
