"""CUDA-graph capture of the Janus decode step (GPU only; imported lazily by decode.py).

One graph per attention bucket (the number of cache slots a step attends to, a multiple of
decode.BUCKET). Every graph reads and writes only the preallocated `DecodeState` buffers, so the
host loop just refreshes the noise buffer and replays; nothing allocated inside a graph is read
outside it, which is what makes sharing one memory pool between the graphs safe.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

WARMUP = 2  # eager runs on a side stream before capture (lazy cuBLAS/SDPA initialisation)


class StepGraphs:
    def __init__(self, state: Any, settings: Any, step: Callable[[int], None], buckets: Sequence[int]) -> None:
        self.state, self.settings, self.buckets = state, settings, tuple(buckets)
        self.graphs: dict[int, torch.cuda.CUDAGraph] = {}
        self._warm_up(step)
        pool = torch.cuda.graph_pool_handle()
        for keys in self.buckets:
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=pool):
                step(keys)
            self.graphs[keys] = graph

    def _warm_up(self, step: Callable[[int], None]) -> None:
        """The warm-up writes garbage into the state; the caller's prefill resets it afterwards."""
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for keys in self.buckets:
                for _ in range(WARMUP):
                    step(keys)
        torch.cuda.current_stream().wait_stream(side)

    def covers(self, state: Any, settings: Any, buckets: Sequence[int]) -> bool:
        return state is self.state and settings == self.settings and set(buckets) <= set(self.buckets)

    def replay(self, keys: int) -> None:
        self.graphs[keys].replay()
