"""GRPO steps through `unigap improve` on synthetic Janus, EMU3 and Show-o checkpoints: finite losses,
trainable parameters change, frozen ones do not. Rewards: the model's own P(match) (self) and the
dual likelihood of the prompt (dual), both of which every one of these backends can score."""

import json

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from unigap.curation.dataset import MANIFEST, PROMPTS, _write, write_prompts  # noqa: E402
from unigap.models.base import ModelConfig, SamplingConfig, load_model  # noqa: E402
from unigap.records import Prompt  # noqa: E402
from unigap.store.images import encode_png  # noqa: E402
from unigap.training.config import GrpoOptions, ImproveConfig, RewardConfig  # noqa: E402
from unigap.training.improve import improve  # noqa: E402

TEXTS = ["a red cat", "a blue square", "a green circle"]


def synthetic(name: str, path):
    if name == "janus":
        from unigap.models.janus.synthetic import build_synthetic

        return build_synthetic("tiny", seed=0, init_std=0.3).save(path)
    if name == "emu3":
        from unigap.models.emu3.synthetic import build_synthetic

        return build_synthetic("tiny", seed=0).save(path)
    from unigap.models.showo.synthetic import write_synthetic

    return write_synthetic(path, "tiny", seed=0)


def curated(path, model):
    """Two base images per prompt (the anchors' reference set) and the prompts GRPO samples for."""
    prompts = [
        Prompt(id=f"p{i}", text=t, subtask="s", split="train", suite="t", band="easy") for i, t in enumerate(TEXTS)
    ]
    gen = model.generate([p.text for p in prompts for _ in range(2)], list(range(6)), SamplingConfig(cfg_scale=1.0))
    rows = [
        {
            "prompt": p.text,
            "prompt_id": p.id,
            "subtask": "s",
            "band": "easy",
            "tokens": gen.tokens[2 * i].tolist(),
            "image": {"bytes": encode_png(gen.images[2 * i].numpy())},
        }
        for i, p in enumerate(prompts)
    ]
    path.mkdir(parents=True)
    _write(rows, path / "sft.parquet", ("image",))
    _write([], path / "dpo.parquet", ("chosen", "rejected"))
    _write([], path / "discard.parquet", ())
    write_prompts(path / PROMPTS, prompts)
    (path / MANIFEST).write_text(
        json.dumps(
            {
                "curate": {"rule": "all_accepted"},
                "splits": ["train"],
                "run_dir": None,
                "fingerprint": model.fingerprint(),
                "counts": {},
            }
        )
    )
    return path


@pytest.mark.parametrize("name,trainable", [("janus", ["llm"]), ("emu3", ["llm"]), ("showo", ["llm"])])
def test_grpo_steps_on_synthetic_checkpoints(tmp_path, name, trainable):
    ckpt = synthetic(name, tmp_path / "ckpt")
    mcfg = ModelConfig(name=name, path=str(ckpt), batch_size=8)
    model = load_model(mcfg)
    if name == "showo":
        mcfg = mcfg.model_copy(update={"options": {"steps": 2}})
    data = curated(tmp_path / "data", model)
    before = {k: v.detach().clone() for k, v in model.module().state_dict().items()}
    groups = model.components()
    trained = {n for n, p in model.module().named_parameters() if any(p is q for t in trainable for q in groups[t])}
    cfg = ImproveConfig(
        method="grpo",
        model=mcfg,
        epochs=1,
        train_batch_size=4,
        lr=1e-2,
        trainable=trainable,
        sampling=SamplingConfig(cfg_scale=2.0, temperature=1.0),
        self_judge={"mode": "prob"},
        grpo=GrpoOptions(
            group_size=2,
            beta=0.05,
            inner_steps=2,
            rewards=[RewardConfig(name="self"), RewardConfig(name="dual", weight=0.1)],
        ),
    )
    history = improve(cfg, data, tmp_path / "out", log=lambda m: None)
    steps = history["steps"]
    assert len(steps) == 2 and all(np.isfinite([s["loss"], s["reward"], s["kl"]]).all() for s in steps)
    assert all(0 <= s["reward/self"] <= 1 for s in steps)
    after = load_model(mcfg.model_copy(update={"path": str(tmp_path / "out" / "model")})).module().state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k].to(before[k].dtype))}
    assert changed, "no parameter changed"
    frozen_changed = {k for k in changed if k not in trained}
    assert not frozen_changed, sorted(frozen_changed)[:5]
