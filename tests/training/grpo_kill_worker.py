"""`improve` in its own process that SIGKILLs itself once `KILL_AT` grpo steps are done (the step after
the last commit: kill -9 semantics, no cleanup runs).

    python -m tests.training.grpo_kill_worker CONFIG_JSON DATA OUT KILL_AT
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from unigap.training.config import ImproveConfig
from unigap.training.improve import improve


class KillAt:
    def __init__(self, at: int) -> None:
        self.at, self.n = at, 0

    def start(self, stage: str, total: int, done: int = 0) -> None:
        pass

    def advance(self, n: int) -> None:
        self.n += n
        if self.n >= self.at:
            os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    cfg = ImproveConfig.model_validate_json(sys.argv[1])
    improve(cfg, Path(sys.argv[2]), Path(sys.argv[3]), log=lambda m: None, progress=KillAt(int(sys.argv[4])))


if __name__ == "__main__":
    main()
