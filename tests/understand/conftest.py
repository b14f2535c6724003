"""Offline lmms-eval fixtures: toy task YAMLs over parquet files written here, a scripted backend.

lmms-eval is part of `make install` (CI): there a missing lmms-eval fails these tests; elsewhere
they skip.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

COLORS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220)}
YESNO_UNTIL = "ASSISTANT:"

YESNO_YAML = """\
task: toy_yesno
dataset_path: parquet
dataset_kwargs:
  data_files:
    test: toy.parquet
test_split: test
output_type: generate_until
doc_to_visual: !function toy_utils.doc_to_visual
doc_to_text: !function toy_utils.yesno_text
doc_to_target: answer
generation_kwargs:
  max_new_tokens: 5
  until:
    - "ASSISTANT:"
  temperature: 0
  do_sample: false
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
    ignore_case: true
    ignore_punctuation: true
metadata:
  version: 2.5
"""

MC_YAML = """\
task: toy_mc
dataset_path: parquet
dataset_kwargs:
  data_files:
    test: toy.parquet
test_split: test
output_type: multiple_choice
doc_to_visual: !function toy_utils.doc_to_visual
doc_to_text: "What color is the image?"
doc_to_choice: ["red", "green", "blue"]
doc_to_target: label
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.5
"""

UTILS = """\
def doc_to_visual(doc):
    return [doc["image"].convert("RGB")]


def yesno_text(doc, lmms_eval_specific_kwargs=None):
    return doc["question"]
"""


def toy_rows(n: int = 10) -> list[dict]:
    """Solid-colour images (every third one 24 px, the rest 32 px): "Is the image <c>?" Yes/No."""
    from unigap.files import encode_png

    names = list(COLORS)
    rows = []
    for i in range(n):
        shown, asked = names[i % 3], names[(i * 2) % 3]
        side = 24 if i % 3 == 2 else 32
        img = np.zeros((side, side, 3), np.uint8) + np.array(COLORS[shown], np.uint8)
        rows.append(
            {
                "question": f"Is the image {asked}?",
                "answer": "Yes" if shown == asked else "No",
                "color": shown,
                "label": names.index(shown),
                "image": {"bytes": encode_png(img), "path": None},
            }
        )
    return rows


def write_toy_parquet(rows: list[dict], path: Path) -> Path:
    import datasets

    feats = datasets.Features(
        {
            "question": datasets.Value("string"),
            "answer": datasets.Value("string"),
            "color": datasets.Value("string"),
            "label": datasets.Value("int64"),
            "image": datasets.Image(),
        }
    )
    datasets.Dataset.from_dict({k: [r[k] for r in rows] for k in feats}, features=feats).to_parquet(str(path))
    return path


@pytest.fixture(scope="session")
def lmms():
    try:
        import lmms_eval  # noqa: F401
    except ImportError as err:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"lmms-eval must be installed in CI (make install does it): {err}")
        pytest.skip(f"lmms-eval not installed ({err}); `make install-eval`")
    return lmms_eval


@pytest.fixture(scope="session")
def toy_tasks(tmp_path_factory) -> Path:
    """A directory lmms-eval indexes: toy_yesno (generate_until) and toy_mc (multiple_choice)."""
    d = tmp_path_factory.mktemp("toy_tasks")
    write_toy_parquet(toy_rows(), d / "toy.parquet")
    (d / "toy_yesno.yaml").write_text(YESNO_YAML)
    (d / "toy_mc.yaml").write_text(MC_YAML)
    (d / "toy_utils.py").write_text(UTILS)
    return d


class ScriptedBackend:
    """A backend with an understanding path whose answers the test chooses; records its calls."""

    name = "scripted"

    def __init__(
        self, answers: dict[str, str] | None = None, best: dict[tuple, str] | None = None, fail_on: str | None = None
    ) -> None:
        self.answers, self.best, self.fail_on = answers or {}, best or {}, fail_on
        self.calls: list[dict] = []

    def answer(self, images: torch.Tensor, questions: Sequence[str], max_new_tokens: int = 16) -> list[str]:
        self.calls.append(
            {
                "kind": "answer",
                "shape": tuple(images.shape),
                "questions": list(questions),
                "max_new_tokens": max_new_tokens,
            }
        )
        if self.fail_on and any(self.fail_on in q for q in questions):
            raise RuntimeError("scripted failure")
        return [self.answers.get(q, "No") for q in questions]

    def answer_logprobs(self, images: torch.Tensor, questions: Sequence[str], answers: Sequence[str]) -> torch.Tensor:
        """log p = 0 for the choice `best` names for the image's first pixel (R, G, B), -5 otherwise."""
        self.calls.append({"kind": "logprobs", "shape": tuple(images.shape), "answers": list(answers)})
        picks = [self.best.get(tuple(img[0, 0].tolist()), "") for img in images]
        return torch.tensor([0.0 if a.strip() == p else -5.0 for a, p in zip(answers, picks)])


@pytest.fixture
def scripted():
    return ScriptedBackend
