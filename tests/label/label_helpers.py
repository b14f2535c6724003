"""A tiny run store for the labelling tests, written through RunStore's own API."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unigap.records import Judgment, Prompt
from unigap.store import CandidateIn, RunStore

SCRIPT_PROMPT = "two blue squares <script>alert(1)</script><img src=x onerror=alert(2)> & more"
TEXTS = ["a red circle", SCRIPT_PROMPT, '=1+2 a green triangle, "quoted"', "a big cross"]


def blocky(seed: int, size: int = 32) -> np.ndarray:
    """A (size, size, 3) image of 4x4 blocks: nearest-neighbour scaling must keep it blocky."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (size // 4, size // 4, 3), dtype=np.uint8).repeat(4, 0).repeat(4, 1)


def make_run(
    path: Path, n_prompts: int = 3, per_prompt: int = 2, sources: tuple[str, ...] = ("base",), judges: bool = True
) -> list[int]:
    """Prompts (the second one holds markup), candidates per source, and self/oracle verdicts; returns ids."""
    prompts = [
        Prompt(
            f"p{i}",
            TEXTS[i % len(TEXTS)] if i < len(TEXTS) else f"prompt {i}",
            ["color", "count", "position"][i % 3],
            "eval",
            "test",
            band="easy",
        )
        for i in range(n_prompts)
    ]
    ids = []
    with RunStore.open(path) as store:
        store.add_prompts(prompts)
        for s, source in enumerate(sources):
            rows = [
                CandidateIn(p.id, j, 1000 * s + 10 * i + j, np.arange(4), blocky(1000 * s + 10 * i + j))
                for i, p in enumerate(prompts)
                for j in range(per_prompt)
            ]
            ids += store.add_candidates(source, rows)
        if judges:
            store.add_judgments("self", [(cid, Judgment(cid % 2, None, "self")) for cid in ids])
            store.add_judgments("oracle", [(cid, Judgment(1 - cid % 3 // 2, None, "oracle")) for cid in ids])
    return ids


def labels(path: Path, judge: str) -> dict[int, int | None]:
    """{candidate_id: verdict} stored for `judge`."""
    with RunStore.open(path, create=False) as store:
        return {r.candidate_id: r.verdict for r in store.judgments(judge=judge)}
