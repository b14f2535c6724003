"""unigap.prompts.shapeworld (lives here because it is the world's suite)."""

import pytest

from unigap import world
from unigap.errors import UnigapError
from unigap.prompts.shapeworld import load_shapeworld


def test_load_all_eval_prompts():
    prompts = load_shapeworld(split="eval", subtasks=None)
    assert len(prompts) == 900 and len({p.id for p in prompts}) == 900
    p = prompts[0]
    assert p.id == "shapeworld/single_object/eval/0000" and p.suite == "shapeworld" and p.band == "easy"
    assert p.text == world.prompt_text(p.spec) and p.split == "eval"
    assert {p.band for p in prompts} == set(world.BANDS)


def test_load_train_subset():
    prompts = load_shapeworld(split="train", subtasks=["physics"], seed=0)
    assert len(prompts) == 350 and prompts[-1].id == "shapeworld/physics/train/0349"
    assert all(p.band == "hard" for p in prompts)


def test_unknown_names():
    with pytest.raises(UnigapError, match="valid: single_object"):
        load_shapeworld(subtasks=["cooking"])
    with pytest.raises(UnigapError, match="train, eval"):
        load_shapeworld(split="test")
