"""The paper's self-judge question and the parser that turns an answer into a verdict.

The question is verbatim from the paper's figures (arXiv 2507.16663) with the prompt inserted.
"""

from __future__ import annotations

import re

from unigap.records import Judgment

SYSTEM_TEXT = (
    "You are a helpful language and vision assistant. You are able to understand the visual "
    "content that the user provides, and assist the user with a variety of tasks using natural language."
)
QUESTION_TEMPLATE = (
    "Does this image describe {prompt}? If it describes the scene, score 1; if it does not fully "
    "describe, score 0. Please answer in the following format: The score is {{your score}}."
)
ANSWER_PREFIX = "The score is"

_SCORE = re.compile(r"The score is\s*([01])", re.IGNORECASE)
_LEADING = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)


def question(prompt: str) -> str:
    """The user turn (after the image) asking whether the image matches `prompt`."""
    return QUESTION_TEMPLATE.format(prompt=prompt)


def full_question(prompt: str) -> str:
    """System text plus question: the whole text the paper sends (used by text-only backends)."""
    return f"{SYSTEM_TEXT} {question(prompt)}"


def parse_verdict(answer: str) -> int | None:
    """`The score is 1` -> 1; else a leading Yes/No (Show-o style) -> 1/0; else None (unparsed)."""
    m = _SCORE.search(answer)
    if m:
        return int(m.group(1))
    m = _LEADING.match(answer.strip())
    if m:
        return 1 if m.group(1).lower() == "yes" else 0
    return None


def judgment_from_answer(answer: str) -> Judgment:
    """A parse-mode judgment: the verdict `parse_verdict` finds, status "unparsed" when it finds
    none; the raw answer is always kept."""
    v = parse_verdict(answer)
    return Judgment(v, None, answer, "ok" if v is not None else "unparsed")
