"""The tiny checkpoint's card figures: the ShapeWorld evaluation stored in `card.json`."""

from __future__ import annotations

import json
from pathlib import Path


def record_eval_in_card(path: str | Path, per_subtask: int = 40, seed: int = 0) -> dict:
    """Evaluate a tiny checkpoint (models.eval) and store the figures in its card (weights untouched)."""
    from unigap.files import write_json
    from unigap.models.base import ModelConfig, default_sampling, load_model
    from unigap.models.eval import evaluate
    from unigap.models.tiny.checkpoint import CARD

    model = load_model(ModelConfig(name="tiny", path=str(path)))
    result = evaluate(model, per_subtask, seed, sampling=default_sampling(model))
    card_path = Path(path) / CARD
    card = json.loads(card_path.read_text())
    card["eval"] = {"prompts_per_subtask": per_subtask, "seed": seed, **result}
    write_json(card_path, card, indent=1)
    return result
