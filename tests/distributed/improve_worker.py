"""One rank of a multi-process `improve` (launched by tests/distributed): trains, then saves the
weights this process ends with to OUT/rank{RANK}.pt, so the test can compare the ranks.

usage: python tests/distributed/improve_worker.py CONFIG_JSON DATA_DIR OUT_DIR
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

import unigap.training.improve as imp


def main() -> None:
    cfg = imp.ImproveConfig.model_validate_json(sys.argv[1])
    data, out = Path(sys.argv[2]), Path(sys.argv[3])
    loaded = []
    load = imp.load_model

    def capture(c):
        loaded.append(load(c))
        return loaded[-1]

    imp.load_model = capture  # keep the model this process trains
    history = imp.improve(cfg, data, out, log=print)
    weights = {k: v.detach().cpu() for k, v in loaded[0].module().state_dict().items()}
    torch.save({"weights": weights, "history": history}, out / f"rank{os.environ.get('RANK', '0')}.pt")


if __name__ == "__main__":
    main()
