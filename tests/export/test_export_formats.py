"""Exporters against a real RunStore, checked the way the official readers read the folders."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
from PIL import Image

from unigap.errors import DataError, UnigapError
from unigap.export import export_geneval, export_hf, export_t2i_compbench, verdict_column
from unigap.prompts.geneval import load_geneval
from unigap.prompts.t2i_compbench import load_t2i_compbench
from unigap.records import Judgment
from unigap.store import CandidateIn, RunStore

GENEVAL = [
    {"tag": "single_object", "include": [{"class": "bench", "count": 1}], "prompt": "a photo of a bench"},
    {
        "tag": "counting",
        "include": [{"class": "clock", "count": 2}],
        "exclude": [{"class": "clock", "count": 3}],
        "prompt": "a photo of two clocks",
    },
    {"tag": "colors", "include": [{"class": "car", "count": 1, "color": "red"}], "prompt": "a photo of a red car"},
]


def image(k: int) -> np.ndarray:
    return np.full((8, 8, 3), k * 20 % 256, np.uint8)


def add_cands(store, source, prompts, n, base=0):
    rows = [
        CandidateIn(p.id, i, 1000 * j + i, np.arange(4) + j, image(base + 10 * j + i))
        for j, p in enumerate(prompts)
        for i in range(n)
    ]
    return store.add_candidates(source, rows)


@pytest.fixture
def geneval_run(tmp_path):
    meta = tmp_path / "evaluation_metadata.jsonl"
    meta.write_text("\n".join(json.dumps(m) for m in GENEVAL) + "\n")
    prompts = load_geneval(path=meta)
    run = tmp_path / "run"
    with RunStore.open(run) as store:
        store.add_prompts(prompts[::-1])  # stored out of file order on purpose
        add_cands(store, "base", prompts[:2], 3)
    return run, prompts


def read_like_geneval(imagedir):
    """Mirror of evaluate_images.py's folder walk (digit folders, json.load, \\d+\\.png)."""
    found = []
    for sub in sorted(os.listdir(imagedir)):
        folder = imagedir / sub
        if not folder.is_dir() or not sub.isdigit():
            continue
        metadata = json.load(open(folder / "metadata.jsonl"))
        found += [
            (sub, metadata, name) for name in sorted(os.listdir(folder / "samples")) if re.match(r"\d+\.png", name)
        ]
    return found


def test_geneval_layout(geneval_run, tmp_path):
    run, prompts = geneval_run
    result = export_geneval(run, tmp_path / "out")
    found = read_like_geneval(tmp_path / "out")
    assert [(s, n) for s, _, n in found] == [("00000", f"{i:04d}.png") for i in range(3)] + [
        ("00001", f"{i:04d}.png") for i in range(3)
    ]
    assert found[3][1] == GENEVAL[1]
    assert (tmp_path / "out" / "00001" / "metadata.jsonl").read_text() == json.dumps(GENEVAL[1])
    png = np.asarray(Image.open(tmp_path / "out" / "00001" / "samples" / "0002.png"))
    assert np.array_equal(png, image(12))
    assert (result.prompts, result.images) == (2, 6) and any("geneval/00002" in n for n in result.notes)
    with pytest.raises(UnigapError, match="already holds GenEval folders"):
        export_geneval(run, tmp_path / "out")
    assert export_geneval(run, tmp_path / "out", overwrite=True).images == 6
    with pytest.raises(UnigapError, match="no candidates of source 'improved'.*sources present: base"):
        export_geneval(run, tmp_path / "out2", source="improved")


@pytest.fixture
def t2i_run(tmp_path):
    folder = tmp_path / "t2i"
    folder.mkdir()
    (folder / "color_val.txt").write_text("a red apple and a green bench\r\na blue car\r\n")
    (folder / "color_train.txt").write_text("a train prompt")
    (folder / "spatial_val.txt").write_text("a dog on the left of a cat")
    val = load_t2i_compbench(split="val", subtasks=["color", "spatial"], path=folder)
    train = load_t2i_compbench(split="train", subtasks=["color"], path=folder)
    run = tmp_path / "run"
    with RunStore.open(run) as store:
        store.add_prompts(val + train)
        add_cands(store, "base", val + train, 2)
    return run, folder


def read_like_blipvqa(out_dir):
    """Mirror of BLIP_vqa.py / CLIP_similarity.py: sort by the index suffix, prompt = split('_')[0]."""
    names = os.listdir(out_dir / "samples")
    names.sort(key=lambda x: int(x.split("_")[-1].split(".")[0]))
    return [(i, name.split("_")[0]) for i, name in enumerate(names)]


def test_t2i_compbench_layout(t2i_run, tmp_path):
    run, _ = t2i_run
    result = export_t2i_compbench(run, tmp_path / "color", subtask="color")
    assert read_like_blipvqa(tmp_path / "color") == [
        (0, "a red apple and a green bench"),
        (1, "a red apple and a green bench"),
        (2, "a blue car"),
        (3, "a blue car"),
    ]
    assert (tmp_path / "color" / "samples" / "a blue car_000003.png").is_file()
    assert result.images == 4
    both = export_t2i_compbench(run, tmp_path / "all")
    assert sorted(p.name for p in both.folders) == ["color", "spatial"]
    assert read_like_blipvqa(tmp_path / "all" / "spatial") == [
        (0, "a dog on the left of a cat"),
        (1, "a dog on the left of a cat"),
    ]
    train = export_t2i_compbench(run, tmp_path / "train", split="train")
    assert train.images == 2
    assert read_like_blipvqa(tmp_path / "train") == [(0, "a train prompt"), (1, "a train prompt")]
    with pytest.raises(UnigapError, match="already holds samples/"):
        export_t2i_compbench(run, tmp_path / "color", subtask="color")


def test_t2i_compbench_refuses_underscore_and_slash(tmp_path):
    folder = tmp_path / "t2i"
    folder.mkdir()
    (folder / "texture_val.txt").write_text("a wooden_table\na glass/metal cup\na fine prompt")
    prompts = load_t2i_compbench(split="val", subtasks=["texture"], path=folder)
    with RunStore.open(tmp_path / "run") as store:
        store.add_prompts(prompts)
        add_cands(store, "base", prompts, 1)
    with pytest.raises(
        DataError, match=r"(?s)2 prompt\(s\).*texture_val/0001: 'a wooden_table'.*0002: 'a glass/metal cup'"
    ):
        export_t2i_compbench(tmp_path / "run", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_hf_dataset_loads(geneval_run, tmp_path):
    from datasets import load_from_disk

    run, prompts = geneval_run
    with RunStore.open(run) as store:
        cands = store.candidates()
        store.add_judgments("self", [(c.id, Judgment(verdict=c.idx % 2)) for c in cands])
        store.add_judgments("qwen2.5-vl", [(cands[0].id, Judgment(verdict=None, status="unparsed"))])
    export_hf(run, tmp_path / "hf")
    ds = load_from_disk(str(tmp_path / "hf"))
    assert len(ds) == 6
    assert {
        "prompt",
        "subtask",
        "band",
        "source",
        "idx",
        "seed",
        "image",
        "tokens",
        "verdict_self",
        verdict_column("qwen2.5-vl"),
    } <= set(ds.column_names)
    row = ds[4]
    assert row["prompt"] == "a photo of two clocks" and row["subtask"] == "counting" and row["idx"] == 1
    assert np.array_equal(np.asarray(row["image"]), image(11)) and row["tokens"] == [1, 2, 3, 4]
    assert ds["verdict_self"] == [0, 1, 0, 0, 1, 0] and ds["verdict_qwen2_5_vl"][:2] == [None, None]
    with pytest.raises(UnigapError, match="not empty"):
        export_hf(run, tmp_path / "hf")


def test_every_exported_file_is_written_whole(geneval_run, t2i_run, tmp_path, monkeypatch):
    """Each file goes through unigap.files' atomic writers (a kill leaves the old file or the new one): the
    writers' fault point names every file the exporters leave, and no temp file is left behind."""
    log = tmp_path / "points.log"
    monkeypatch.setenv("UNIGAP_FAULT_LOG", str(log))
    export_geneval(geneval_run[0], tmp_path / "g")
    export_t2i_compbench(t2i_run[0], tmp_path / "t")
    export_hf(geneval_run[0], tmp_path / "h")
    written = {line.split("\t", 1)[1] for line in log.read_text().splitlines() if line.startswith("file\t")}
    files = [p for d in ("g", "t") for p in (tmp_path / d).rglob("*") if p.is_file()]
    assert len(files) == (6 + 2) + (4 + 2) and all(str(p) in written for p in files)  # geneval: PNGs + metadata
    assert str(tmp_path / "h") in written  # the dataset directory, swapped in whole
    assert not [p for p in tmp_path.rglob("*.tmp")] and not [p for p in tmp_path.rglob("*.old")]
