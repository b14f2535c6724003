import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from tests.training.test_grpo import grpo_cfg, grpo_data
from tests.training.test_improve import cfg, make_data, weights
from unigap.errors import DataError, UnigapError
from unigap.models.base import ModelConfig, load_model
from unigap.models.tiny.checkpoint import shipped_path
from unigap.training.anchor import load_und_set, match_logit
from unigap.training.config import AnchorConfig, JudgeKLAnchor, ReplayAnchor
from unigap.training.improve import improve
from unigap.training.losses import bernoulli_kl
from unigap.verdict import question


def test_match_logit_is_the_logit_of_score_probs():
    model = load_model(ModelConfig(name="tiny"))
    texts = ["a red circle", "a big blue square"]
    images = model.generate(texts, [1, 2], model.default_sampling).images
    z = match_logit(model, images, texts)
    assert z.requires_grad
    p = model.score_probs(images, [question(t) for t in texts])
    assert torch.allclose(torch.sigmoid(z.detach()), torch.tensor(p), atol=1e-5)


def test_bernoulli_kl_is_zero_at_the_base_and_grows_away_from_it():
    p0 = torch.tensor([0.2, 0.7, 0.99])
    z0 = torch.logit(p0)
    assert torch.allclose(bernoulli_kl(p0, z0), torch.zeros(3), atol=1e-6)
    assert (bernoulli_kl(p0, z0 + 1.0) > 0).all() and (bernoulli_kl(p0, z0 - 1.0) > 0).all()


def test_shapeworld_plain_set_uses_train_scenes_only():
    from unigap.understand.shapeworld import build_items

    items = load_und_set(ReplayAnchor(set="shapeworld_plain", size=18), seed=0)
    built = build_items(2, 0, split="train")
    assert len(items) == 18 and all("/train/" in it["id"] for it in built)
    assert [(i["question"], i["answer"]) for i in items] == [(b["question"], b["answer"]) for b in built]
    assert {b["id"] for b in build_items(2, 0)}.isdisjoint(b["id"] for b in built)  # the benchmark's (eval) items
    fixed = load_und_set(ReplayAnchor(set="shapeworld_plain", size=18, seed=3), seed=0)  # the section's seed wins
    assert [i["question"] for i in fixed] == [b["question"] for b in build_items(2, 3, split="train")]


def test_a_missing_or_malformed_understanding_set_is_refused_before_writing(tmp_path, tiny_ckpt_dir):
    data = make_data(tmp_path / "data", tiny_ckpt_dir)
    bad = tmp_path / "und.parquet"
    pq.write_table(pa.table({"image": [b"x"], "question": ["q"]}), bad)
    with pytest.raises(DataError, match=r"und.parquet: missing column\(s\) \['answer'\]"):
        improve(cfg(tiny_ckpt_dir, anchor=AnchorConfig(replay=ReplayAnchor(set=str(bad)))), data, tmp_path / "o")
    with pytest.raises(DataError, match="neither a registered set"):
        improve(cfg(tiny_ckpt_dir, anchor=AnchorConfig(replay=ReplayAnchor(set="nope"))), data, tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_anchors_need_answer_logprobs(tmp_path, tiny_ckpt_dir, monkeypatch):
    from unigap.models.tiny.backend import TinyBackend

    monkeypatch.delattr(TinyBackend, "answer_logprobs")
    data = make_data(tmp_path / "data", tiny_ckpt_dir)
    with pytest.raises(UnigapError, match="anchor: the 'tiny' backend has no answer_logprobs"):
        improve(cfg(tiny_ckpt_dir, anchor=AnchorConfig(judge_kl=JudgeKLAnchor(weight=1.0))), data, tmp_path / "o")


@pytest.mark.parametrize("method", ["sft", "grpo"])
def test_judge_kl_anchor_keeps_the_judge_near_the_base_on_its_reference_images(tmp_path, method):
    """On the shipped model, the trunk trained with the judge-KL anchor moves P(match) on the reference
    images less than without it; the anchor's terms are finite and trained parameters change."""
    ckpt = shipped_path()
    data = grpo_data(tmp_path / "data", ckpt) if method == "grpo" else make_data(tmp_path / "data", ckpt, n=16)
    kw = dict(lr=3e-3, epochs=3) if method == "sft" else dict(lr=3e-3, epochs=2)
    make = (lambda **k: grpo_cfg(ckpt, **kw, **k)) if method == "grpo" else (lambda **k: cfg(ckpt, **kw, **k))
    free = improve(make(), data, tmp_path / "free", log=lambda m: None)
    anchored = improve(
        make(anchor=AnchorConfig(judge_kl=JudgeKLAnchor(weight=5.0, size=16, batch=8))),
        data,
        tmp_path / "anchored",
        log=lambda m: None,
    )
    from unigap.training.checkpoint import State

    ref = State.load(tmp_path / "anchored").anchor
    drift = {}
    for name in ("free", "anchored"):
        model = load_model(ModelConfig(name="tiny", path=str(tmp_path / name / "model")))
        with torch.no_grad():
            z = match_logit(model, model.decode(ref["tokens"]), ref["prompts"])
        drift[name] = float(bernoulli_kl(ref["p0"], z).mean())
    assert drift["anchored"] < drift["free"], drift
    rows = anchored["steps"] if method == "grpo" else anchored["epochs"]
    assert all(np.isfinite(r["loss"]) for r in rows)
    base, after = (
        weights(load_model(ModelConfig(name="tiny", path=str(ckpt)))),
        weights(load_model(ModelConfig(name="tiny", path=str(tmp_path / "anchored" / "model")))),
    )
    assert any(not torch.equal(base[k], after[k]) for k in base)
    assert free["epochs"]


def test_replay_anchor_lowers_the_understanding_sets_loss(tmp_path):
    """SFT with the shapeworld_plain replay: the plain answers' NLL on the replayed items falls vs plain SFT."""
    ckpt = shipped_path()
    data = make_data(tmp_path / "data", ckpt, n=16)
    items = load_und_set(ReplayAnchor(set="shapeworld_plain", size=36), seed=0)
    from unigap.training.anchor import decode_png

    images = torch.from_numpy(np.stack([decode_png(i["image"]) for i in items]))

    def nll(path):
        model = load_model(ModelConfig(name="tiny", path=str(path)))
        with torch.no_grad():
            lp = model.answer_logprobs(images, [i["question"] for i in items], [i["answer"] for i in items])
        return -lp.mean().item()

    rp = AnchorConfig(replay=ReplayAnchor(set="shapeworld_plain", ratio=1.0, size=36))
    improve(cfg(ckpt, lr=3e-3, epochs=3, trainable=["all"]), data, tmp_path / "free", log=lambda m: None)
    improve(cfg(ckpt, lr=3e-3, epochs=3, trainable=["all"], anchor=rp), data, tmp_path / "replay", log=lambda m: None)
    assert nll(tmp_path / "replay" / "model") < nll(tmp_path / "free" / "model")


SETS = """
from unigap.config import Config
from unigap.registry import factory


class Options(Config):
    answer: str = "yes"


def item(i, answer):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (i, i, i)).save(buf, format="PNG")
    return {"image": buf.getvalue(), "question": f"q{i}", "answer": answer}


@factory(options=Options)
def new_set(cfg, options):
    return [item(i, options.answer) for i in range(cfg.size)] + [item(cfg.seed, "seed")]


def old_set(size, seed):
    return [item(i, "old") for i in range(size)] + [item(seed, "seed")]
"""


def test_understanding_set_plugins_follow_the_factory_convention(tmp_path, monkeypatch):
    """A plugin set is factory(cfg: the anchor.replay section, its typed options); one written for the older
    fn(size, seed) still loads, with a FutureWarning."""
    from tests._plugins import install
    from unigap.errors import ConfigError
    from unigap.training.anchor import UND_SETS, Anchors

    install(
        tmp_path / "site",
        "unigap_sets",
        "unigap_sets",
        SETS,
        "[unigap.understanding_sets]\nnew = unigap_sets:new_set\nold = unigap_sets:old_set\n",
        monkeypatch,
    )
    with pytest.warns(FutureWarning, match="'old'.*not declared with @unigap.registry.factory"):
        assert {"new", "old", "shapeworld_plain"} <= set(UND_SETS.names())
    items = load_und_set(ReplayAnchor(set="new", size=2, options={"answer": "no"}), seed=7)
    assert [i["answer"] for i in items] == ["no", "no", "seed"] and items[-1]["question"] == "q7"
    assert [i["answer"] for i in load_und_set(ReplayAnchor(set="old", size=1), seed=5)] == ["old", "seed"]
    with pytest.raises(ConfigError, match="anchor.replay.options.colour: unknown option"):
        Anchors.check(AnchorConfig(replay=ReplayAnchor(set="new", options={"colour": 1})))
