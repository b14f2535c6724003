"""ShapeWorld plain questions as local lmms-eval tasks.

Each eval-split prompt of every subtask is realised as a scene (seeded by the prompt), rendered,
and asked one plain question with an exact one-word answer, the same kinds the tiny model's
pretraining asks (count, colour, texture, size, on the ground, is there a ...): the questions come
from `unigap.models.tiny.recipe.plain_question`, the scenes from the eval split (pretraining uses
train-split specs only). The items are written to a parquet file next to copies of the shipped
task YAMLs, so `TaskManager(include_path=DIR)` (or `lmms-eval --include_path DIR`) finds:

- `shapeworld_plain`    generate_until, lmms-eval's `exact_match` (case and punctuation ignored)
- `shapeworld_plain_mc` multiple_choice over the answer set of the question's kind, lmms-eval's `acc`

    python -m unigap.understand.shapeworld --out DIR [--per-subtask 40] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

TASKS = ("shapeworld_plain", "shapeworld_plain_mc")
PARQUET = "shapeworld_plain.parquet"
TEMPLATES = Path(__file__).parent / "tasks" / "shapeworld"
COUNT_WORDS = ("zero", "one", "two", "three")
KINDS = {
    "How many": "count",
    "What color": "color",
    "What texture": "texture",
    "What size": "size",
    "Is there": "exists",
    "Is the": "ground",
}


def question_kind(question: str) -> str:
    return next(kind for head, kind in KINDS.items() if question.startswith(head))


def choices_of(kind: str) -> list[str]:
    from unigap import world

    return {
        "count": list(COUNT_WORDS),
        "color": list(world.COLORS),
        "texture": list(world.TEXTURES),
        "size": list(world.SIZES),
    }.get(kind, ["Yes", "No"])


def build_items(per_subtask: int = 40, seed: int = 0, split: str = "eval") -> list[dict[str, Any]]:
    """One plain question per prompt of `split` (first `per_subtask` of each subtask); deterministic.
    The eval split is the benchmark; the train split is the understanding set `improve`'s replay
    anchor trains on (training never sees the benchmark's scenes)."""
    from unigap import world
    from unigap.files import encode_png
    from unigap.models.tiny.recipe import plain_question
    from unigap.prompts.shapeworld import load_shapeworld

    items = []
    salt = 18 if split == "eval" else 19
    for name in world.SUBTASKS:
        for p in load_shapeworld(split=split, subtasks=[name])[:per_subtask]:
            rng = np.random.default_rng([seed, salt, int(p.id.rsplit("/", 1)[-1])])
            scene = world.realize(p.spec, rng)
            q, a = plain_question(scene, rng)
            kind = question_kind(q)
            choices = choices_of(kind)
            items.append(
                {
                    "id": p.id,
                    "subtask": name,
                    "band": p.band,
                    "kind": kind,
                    "question": q,
                    "answer": a,
                    "choices": choices,
                    "label": choices.index(a),
                    "image": {"bytes": encode_png(world.render(scene)), "path": None},
                }
            )
    return items


def write_parquet(items: list[dict[str, Any]], path: Path) -> Path:
    """A parquet file `datasets` loads with the image column decoded to PIL (its Image feature)."""
    import datasets

    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "subtask": datasets.Value("string"),
            "band": datasets.Value("string"),
            "kind": datasets.Value("string"),
            "question": datasets.Value("string"),
            "answer": datasets.Value("string"),
            "choices": datasets.Sequence(datasets.Value("string")),
            "label": datasets.Value("int64"),
            "image": datasets.Image(),
        }
    )
    cols = {k: [it[k] for it in items] for k in features}
    datasets.Dataset.from_dict(cols, features=features).to_parquet(str(path))
    return path


def prepare_tasks(out: str | Path, per_subtask: int = 40, seed: int = 0) -> Path:
    """Write DIR/shapeworld/{parquet, task YAMLs, meta.json}; returns the directory to include."""
    out = Path(out)
    task_dir = out / "shapeworld"
    task_dir.mkdir(parents=True, exist_ok=True)
    items = build_items(per_subtask, seed)
    write_parquet(items, task_dir / PARQUET)
    for yaml_file in TEMPLATES.glob("*.yaml"):
        shutil.copyfile(yaml_file, task_dir / yaml_file.name)
    meta = {
        "per_subtask": per_subtask,
        "seed": seed,
        "n": len(items),
        "split": "eval",
        "kinds": {k: sum(it["kind"] == k for it in items) for k in sorted(set(KINDS.values()))},
    }
    (task_dir / "meta.json").write_text(json.dumps(meta, indent=2))
    return out


# --- functions the task YAMLs call (`!function unigap.understand.shapeworld.<name>`) ----------------
def doc_to_visual(doc: dict) -> list:
    return [doc["image"].convert("RGB")]


def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    kw = lmms_eval_specific_kwargs or {}
    return f"{kw.get('pre_prompt', '')}{doc['question']}{kw.get('post_prompt', '')}"


def doc_to_choice(doc: dict) -> list[str]:
    return list(doc["choices"])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Write the ShapeWorld lmms-eval tasks (parquet + YAML) to a directory.")
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-subtask", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    print(prepare_tasks(args.out, args.per_subtask, args.seed))


if __name__ == "__main__":
    main()
