"""ShapeWorld plain questions as lmms-eval tasks: exact answers, deterministic, run by lmms-eval."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from unigap.understand.shapeworld import COUNT_WORDS, KINDS, build_items, prepare_tasks


def test_items_are_deterministic_and_answers_exact():
    items = build_items(per_subtask=3, seed=0)
    assert len(items) == 27 and items == build_items(per_subtask=3, seed=0)
    assert build_items(per_subtask=3, seed=1) != items
    from unigap import world

    for it in items:
        assert it["choices"][it["label"]] == it["answer"]
        if it["kind"] == "count":  # the oracle's parser counts the objects in the stored pixels
            img = np.asarray(Image.open(io.BytesIO(it["image"]["bytes"])).convert("RGB"))
            assert COUNT_WORDS[min(len(world.parse_image(img)), 3)] == it["answer"]
    assert {it["id"].split("/")[2] for it in items} == {"eval"}  # pretraining sees train-split specs only


def test_all_question_kinds_occur():
    assert {it["kind"] for it in build_items(per_subtask=10, seed=0)} == set(KINDS.values())


def test_shapeworld_tasks_run_through_lmms_eval(lmms, tmp_path, tiny_ckpt_dir):
    from unigap.models.base import ModelConfig
    from unigap.understand.run import evaluate_backend

    cfg = ModelConfig(name="tiny", path=str(tiny_ckpt_dir), batch_size=8)
    result = evaluate_backend(
        cfg,
        ["shapeworld_plain", "shapeworld_plain_mc"],
        5,
        tmp_path,
        options={"include_defaults": False, "per_subtask": 1},
    )
    assert result["n"]["shapeworld_plain"] == {"original": 9, "effective": 5}
    assert set(result["scores"]["shapeworld_plain"]) >= {"exact_match"}
    assert set(result["scores"]["shapeworld_plain_mc"]) >= {"acc"}
    assert result["task_versions"] == {"shapeworld_plain": 1.0, "shapeworld_plain_mc": 1.0}
    assert (tmp_path / "tasks" / "shapeworld" / "shapeworld_plain.parquet").is_file()
    assert prepare_tasks(tmp_path / "again", per_subtask=1) == tmp_path / "again"
