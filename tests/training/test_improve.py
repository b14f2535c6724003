import json

import numpy as np
import pytest
import torch

from unigap import world
from unigap.curation.dataset import MANIFEST, _write, read_parquet_rows
from unigap.errors import DataError
from unigap.files import encode_png
from unigap.models.base import ModelConfig, load_model
from unigap.training.improve import ImproveConfig, improve

TEXTS = ["a red circle", "a blue square", "a big green triangle", "a small red cross"]


def make_data(path, ckpt_dir, n=8, splits=("train",), fingerprint=None, seed=0, prompts=None):
    """Curated data of random images; `prompts` (Prompt records): rows cycle through them (ids and texts)."""
    model = load_model(ModelConfig(name="tiny", path=str(ckpt_dir)))
    rng = np.random.default_rng(seed)
    rows, pairs = [], []
    for i in range(n):
        toks = rng.integers(0, model.ckpt.codec.size, size=(2, model.num_image_tokens))
        img = model.ckpt.codec.decode(toks)
        p = prompts[i % len(prompts)] if prompts else None
        text, pid = (TEXTS[i % 4], f"p{i}") if p is None else (p.text, p.id)
        base = {"prompt": text, "prompt_id": pid, "subtask": "single_object", "band": "easy"}
        rows.append({**base, "image": {"bytes": encode_png(img[0])}, "tokens": toks[0].tolist()})
        pairs.append(
            {
                **base,
                "chosen": {"bytes": encode_png(img[0])},
                "rejected": {"bytes": encode_png(img[1])},
                "chosen_tokens": toks[0].tolist(),
                "rejected_tokens": toks[1].tolist(),
            }
        )
    path.mkdir(parents=True, exist_ok=True)
    _write(rows, path / "sft.parquet", ("image",))
    _write(pairs, path / "dpo.parquet", ("chosen", "rejected"))
    _write(
        [
            {
                "prompt": "a blue cross",
                "prompt_id": "q0",
                "subtask": "single_object",
                "band": "easy",
                "split": "train",
                "suite": "t",
                "spec": "null",
            }
        ],
        path / "discard.parquet",
        (),
    )
    manifest = {
        "curate": {"rule": "one_per_prompt"},
        "splits": list(splits),
        "run_dir": None,
        "fingerprint": fingerprint or model.fingerprint(),
        "counts": {},
    }
    (path / MANIFEST).write_text(json.dumps(manifest))
    return path


def cfg(ckpt_dir, **kw):
    return ImproveConfig(
        **{"model": ModelConfig(name="tiny", path=str(ckpt_dir)), "epochs": 2, "train_batch_size": 4, "lr": 1e-3, **kw}
    )


def weights(model):
    return {k: v.detach().clone() for k, v in model.module().state_dict().items()}


@pytest.mark.parametrize(
    "method,trainable", [("sft", ["llm"]), ("dpo", ["llm"]), ("sft", ["gen_head"]), ("dpo", ["all"])]
)
def test_trainer_updates_trainable_only(tmp_path, tiny_ckpt_dir, method, trainable):
    data = make_data(tmp_path / "data", tiny_ckpt_dir)
    before = weights(load_model(ModelConfig(name="tiny", path=str(tiny_ckpt_dir))))
    history = improve(
        cfg(tiny_ckpt_dir, method=method, trainable=trainable), data, tmp_path / "out", log=lambda m: None
    )
    assert all(np.isfinite(e["loss"]) for e in history["epochs"])
    after_model = load_model(ModelConfig(name="tiny", path=str(tmp_path / "out" / "model")))
    after = weights(after_model)
    groups = after_model.components()
    # "all" trains everything on the image path; the text head gets no gradient from image losses
    names = {
        n
        for n, p in after_model.module().named_parameters()
        if ("all" in trainable and not n.startswith("lm_head"))
        or any(p is q for t in trainable if t != "all" for q in groups[t])
    }
    for k in before:
        changed = not torch.equal(before[k], after[k])
        assert changed == (k in names), k


def test_sft_on_one_example_raises_its_logprob(tmp_path, tiny_ckpt_dir):
    data = make_data(tmp_path / "data", tiny_ckpt_dir, n=1)
    base = load_model(ModelConfig(name="tiny", path=str(tiny_ckpt_dir)))
    row = read_parquet_rows(data / "sft.parquet", ["prompt", "tokens"])[0]
    toks = torch.tensor([row["tokens"]])
    lp0 = base.image_logprobs([row["prompt"]], toks).item()
    improve(cfg(tiny_ckpt_dir, epochs=5), data, tmp_path / "out", log=lambda m: None)
    new = load_model(ModelConfig(name="tiny", path=str(tmp_path / "out" / "model")))
    assert new.image_logprobs([row["prompt"]], toks).item() > lp0 + 1.0


@pytest.mark.parametrize("method", ["sft", "dpo"])
def test_und_weight_teaches_the_curated_verdicts(tmp_path, method):
    """und_weight > 0: the self-judge's log-odds of "The score is 1." over "0." rise on accepted/chosen
    images and (DPO) separate chosen from rejected; the text head, untouched by image losses, changes.
    On the shipped model: a random one cannot tell the images apart."""
    from unigap.models.tiny.checkpoint import shipped_path
    from unigap.verdict import question

    tiny_ckpt_dir = shipped_path()
    data = make_data(tmp_path / "data", tiny_ckpt_dir, n=4)
    base = load_model(ModelConfig(name="tiny", path=str(tiny_ckpt_dir)))
    rows = read_parquet_rows(data / "dpo.parquet", ["prompt", "prompt_id", "subtask", "band", "chosen_tokens"])
    codec = base.ckpt.codec
    empty = codec.tokens_of(world.Scene(()))  # rejected: an empty sky, unlike any chosen image
    for r in rows:
        r.update(
            rejected_tokens=empty.tolist(),
            chosen={"bytes": encode_png(codec.decode(np.array([r["chosen_tokens"]]))[0])},
            rejected={"bytes": encode_png(codec.decode(empty[None])[0])},
        )
    _write(rows, data / "dpo.parquet", ("chosen", "rejected"))

    def odds(model, key):
        imgs = model.decode(torch.tensor([r[key] for r in rows]))
        qs = [question(r["prompt"]) for r in rows]
        lp = {v: model.answer_logprobs(imgs, qs, [f"The score is {v}."] * len(rows)).detach() for v in (0, 1)}
        return lp[1] - lp[0]

    history = improve(
        cfg(tiny_ckpt_dir, method=method, trainable=["all"], und_weight=1.0, epochs=10),
        data,
        tmp_path / "out",
        log=lambda m: None,
    )
    assert all(np.isfinite(e["loss"]) for e in history["epochs"])
    new = load_model(ModelConfig(name="tiny", path=str(tmp_path / "out" / "model")))
    assert not torch.equal(base.module().lm_head.weight, new.module().lm_head.weight)
    if method == "sft":  # every label is 1
        assert (odds(new, "chosen_tokens") > odds(base, "chosen_tokens") + 1.0).all()
    else:  # 1 for chosen, 0 for rejected: the verdicts separate
        gap_new = odds(new, "chosen_tokens") - odds(new, "rejected_tokens")
        gap_base = odds(base, "chosen_tokens") - odds(base, "rejected_tokens")
        assert (gap_new > gap_base + 1.0).all()


def test_und_weight_needs_answer_logprobs(tmp_path, tiny_ckpt_dir, monkeypatch):
    from unigap.models.tiny.backend import TinyBackend

    monkeypatch.delattr(TinyBackend, "answer_logprobs")
    data = make_data(tmp_path / "data", tiny_ckpt_dir, n=2)
    with pytest.raises(Exception, match="und_weight: the 'tiny' backend has no answer_logprobs"):
        improve(cfg(tiny_ckpt_dir, und_weight=1.0), data, tmp_path / "out", log=lambda m: None)


def test_kill_and_resume_gives_the_same_weights(tmp_path, tiny_ckpt_dir):
    data = make_data(tmp_path / "data", tiny_ckpt_dir)
    c = cfg(tiny_ckpt_dir, method="dpo", epochs=3)
    improve(c, data, tmp_path / "straight", log=lambda m: None)
    calls = {"n": 0}

    def die(_):
        calls["n"] += 1
        if calls["n"] == 3:  # mid epoch 2: only epoch 1 is on disk
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        improve(c, data, tmp_path / "killed", log=lambda m: None, on_batch=die)
    improve(c, data, tmp_path / "killed", log=lambda m: None)
    a = weights(load_model(ModelConfig(name="tiny", path=str(tmp_path / "straight" / "model"))))
    b = weights(load_model(ModelConfig(name="tiny", path=str(tmp_path / "killed" / "model"))))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_empty_curation_is_a_clear_message(tmp_path, tiny_ckpt_dir):
    data = make_data(tmp_path / "data", tiny_ckpt_dir, n=0)
    with pytest.raises(DataError, match="no accepted images to train on.*Try more candidates"):
        improve(cfg(tiny_ckpt_dir), data, tmp_path / "out", log=lambda m: None)


def test_eval_prompts_and_incompatible_data_are_refused(tmp_path, tiny_ckpt_dir):
    data = make_data(tmp_path / "d1", tiny_ckpt_dir, splits=("train", "eval"))
    with pytest.raises(DataError, match="refuses evaluation prompts"):
        improve(cfg(tiny_ckpt_dir), data, tmp_path / "o1", log=lambda m: None)
    data = make_data(tmp_path / "d2", tiny_ckpt_dir, fingerprint={"backend": "tiny", "codec_sha256": "abc"})
    with pytest.raises(DataError, match="incompatible") as err:
        improve(cfg(tiny_ckpt_dir), data, tmp_path / "o2", log=lambda m: None)
    assert "abc" in str(err.value)
