"""Wall time of each stage of `unigap run` (the embedded default), in a fresh temporary run directory.

python bench/run.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from unigap.pipeline.run import RunConfig, run_loop


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", type=Path, default=None, help="run directory to keep (default: a temp dir)")
    args = ap.parse_args()
    out = args.keep or Path(tempfile.mkdtemp(prefix="unigap-run-"))
    t0 = time.perf_counter()
    results = run_loop(RunConfig(), out, log=lambda m: None)
    total = time.perf_counter() - t0
    for stage, seconds in results["stage_seconds"].items():
        print(f"{stage:22s} {seconds:7.1f} s")
    print(f"{'total':22s} {total:7.1f} s   (run directory {out})")


if __name__ == "__main__":
    main()
