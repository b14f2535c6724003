"""`--judge geneval`: GenEval (djghosh13/geneval) on transformers models.

`decide` (the decision rules) and `summarize` are pure and import nothing heavy; the judge
(`unigap.judges.geneval.judge.GenevalJudge`) loads Mask2Former and CLIP on first use.
"""

from unigap.judges.geneval.rules import COLORS, OBJECT_NAMES, TAGS, decide, relative_position, select_detections
from unigap.judges.geneval.summary import format_summary, summarize

__all__ = [
    "COLORS",
    "OBJECT_NAMES",
    "TAGS",
    "decide",
    "relative_position",
    "select_detections",
    "summarize",
    "format_summary",
]
