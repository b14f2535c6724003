"""Understanding co-improvement (the paper's win rate and its false-positive-correction group,
arXiv 2507.16663), pure functions over stored verdicts.

On the BASE model's images of the eval prompts, compare the base model's understanding ("pre")
with the improved model's ("self") against an external judge's label. Among images where pre and
self disagree, the win rate is the share where self agrees with the external judge; 50 % when
there is no disagreement (the paper's convention). The paper's worked case: 3 disagreements,
2 agreeing -> 2/3. Disagreement kinds, as (label, pre, self):
  (0,1,0) false positive corrected   win     (1,0,1) false negative corrected   win
  (0,0,1) new false positive         loss    (1,1,0) new false negative         loss
Only the subtasks the label judge gave verdicts on enter (in a mixed suite a benchmark's scorer
labels its own benchmark's subtasks only); `benchmarks` ({subtask: benchmark}) adds the
per-benchmark level (unweighted mean of its subtasks).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from unigap.analysis.metrics import Row, build_table, per_prompt_counts
from unigap.analysis.stats import summarise_ratio
from unigap.vocab import IMPROVED_JUDGE, SELF_JUDGE

KINDS = {(0, 1, 0): "fp_corrected", (1, 0, 1): "fn_corrected", (0, 0, 1): "new_fp", (1, 1, 0): "new_fn"}


def disagreement_kinds(label: np.ndarray, pre: np.ndarray, post: np.ndarray) -> dict[str, int]:
    valid = (label >= 0) & (pre >= 0) & (post >= 0)
    return {name: int((valid & (label == a) & (pre == b) & (post == c)).sum()) for (a, b, c), name in KINDS.items()}


def win_rate(
    rows: Iterable[Row],
    pre: str = SELF_JUDGE,
    post: str = IMPROVED_JUDGE,
    label: str = "oracle",
    n_boot: int = 1000,
    seed: int = 0,
    benchmarks: dict[str, str] | None = None,
) -> dict:
    """Win rate per subtask/band/overall with CIs, disagreement kinds and the FP-correction share."""
    t = build_table(rows)
    missing = [j for j in (pre, post, label) if j not in t.verdicts]
    if missing:
        return {"missing_judges": missing}
    p, s, e = t.verdicts[pre], t.verdicts[post], t.verdicts[label]
    scope = {sub for sub, v in zip(t.subtasks, e) if v >= 0}  # subtasks the label judge gave verdicts on
    disagree = (p >= 0) & (s >= 0) & (e >= 0) & (p != s)
    counts = per_prompt_counts(t, disagree & (s == e), disagree, scope)
    groups = {"benchmarks": dict(benchmarks or {})}
    result = {
        "win_rate": summarise_ratio(counts, t.bands, n_boot, seed, empty=0.5, groups=groups),
        "bands_of": t.bands,
        "benchmark_of": groups["benchmarks"],
    }
    subtasks = np.array(t.subtasks)
    result["kinds"] = {
        sub: disagreement_kinds(e[subtasks == sub], p[subtasks == sub], s[subtasks == sub])
        for sub in dict.fromkeys(t.subtasks)
        if sub in scope
    }
    result["kinds_total"] = disagreement_kinds(e, p, s)
    k = result["kinds_total"]
    wins = k["fp_corrected"] + k["fn_corrected"]
    result["fp_correction_share_of_wins"] = k["fp_corrected"] / wins if wins else None
    result["disagreements"] = int(disagree.sum())
    return result
