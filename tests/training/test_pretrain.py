import numpy as np
import pytest
import torch

from unigap import world
from unigap.errors import CheckpointError
from unigap.models.tiny.checkpoint import load_checkpoint, save_checkpoint
from unigap.training.pretrain import ArchConfig, PretrainConfig, SelfPlayConfig, pretrain, recipe_dict, self_play_pool

SMALL = dict(train_batch_size=16, arch=ArchConfig(n_layer=2, n_head=2, n_embd=32), warmup=5, lr=3e-3)


def test_30_step_pretrain_loss_falls_and_parameters_change(tmp_path):
    losses = []
    cfg = PretrainConfig(steps=30, checkpoint_every=100, **SMALL)
    ckpt = pretrain(cfg, tmp_path, lambda step, s: losses.append(s["loss"]))
    assert all(torch.isfinite(torch.tensor(losses)))
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.5
    torch.manual_seed(cfg.seed)
    from unigap.models.tiny.model import TinyUnified

    fresh = TinyUnified(ckpt.model.cfg)
    changed = [not torch.equal(a, b) for a, b in zip(fresh.parameters(), ckpt.model.parameters())]
    assert all(changed)


def test_killed_pretrain_resumes_to_the_same_weights(tmp_path):
    cfg = PretrainConfig(steps=12, checkpoint_every=5, **SMALL)
    straight = pretrain(cfg, tmp_path / "a")

    def die(step, _):
        if step == 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pretrain(cfg, tmp_path / "b", die)
    assert (tmp_path / "b" / "LATEST").read_text().strip() == "000005"
    resumed = pretrain(cfg, tmp_path / "b")
    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)


# Killed at step 8, resumed from the checkpoint of step 5: with start 2 the pool is refreshed at
# 2, 5, 8 (the resumed run redraws step 5's); with start 3 at 3, 6, 9 (step 3's pool is restored).
@pytest.mark.parametrize("start", [2, 3])
def test_self_play_pretrain_resumes_to_the_same_weights(tmp_path, start):
    kill_at = 8
    sp = SelfPlayConfig(frac=0.5, start=start, every=3, pool=16)
    cfg = PretrainConfig(steps=10, checkpoint_every=5, self_play=sp, **SMALL)
    straight = pretrain(cfg, tmp_path / "a")

    def die(step, _):
        if step == kill_at:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pretrain(cfg, tmp_path / "b", die)
    resumed = pretrain(cfg, tmp_path / "b")
    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)


def test_self_play_pool_holds_the_models_images_with_oracle_verdicts():
    from unigap.models.tiny.checkpoint import shipped_path

    ckpt = load_checkpoint(shipped_path())
    cfg = PretrainConfig(self_play=SelfPlayConfig(frac=0.5, pool=40), sampling=ckpt.card["sampling"])
    pool = self_play_pool(ckpt, cfg, step=7, excluded=frozenset())
    assert len(pool) == 40 and pool == self_play_pool(ckpt, cfg, step=7, excluded=frozenset())
    assert {v for _, _, v, _ in pool} == {0, 1}  # the shipped model draws some prompts right, some wrong
    for tokens, text, verdict, subtask in pool[:10]:
        assert len(tokens) == ckpt.codec.num_tokens and isinstance(text, str) and verdict in (0, 1)
        assert subtask in world.SUBTASKS


def test_balanced_self_play_draws_each_subtasks_verdicts_equally():
    from unigap.models.tiny.recipe import DataSource

    # a pool like the medium band's: 1 right image of "texture" among 9 wrong ones, 10 wrong "spatial"
    pool = [([0] * 12, "p", int(i == 0), "texture") for i in range(10)] + [([0] * 12, "q", 0, "spatial")] * 10
    counts = {}
    for balance in (False, True):
        cfg = PretrainConfig(
            self_play=SelfPlayConfig(frac=1.0, balance=balance),
            und_positive_frac=0.5,
            und_subtask_weights={"texture": 1.0, "spatial": 1.0},
        )
        data = DataSource.__new__(DataSource)
        data.cfg, data.pool, data._cells = cfg, pool, None
        rng = np.random.default_rng(0)
        picks = [data.pool_index(rng) for _ in range(4000)]
        counts[balance] = sum(pool[i][2] for i in picks) / len(picks)
    assert abs(counts[False] - 0.05) < 0.02  # uniform: the base rate, 1 in 20
    assert abs(counts[True] - 0.25) < 0.03  # half of texture's draws are its one right image; spatial has none
    assert "balance" not in recipe_dict(PretrainConfig())["self_play"]  # old cards still match their config


def test_checkpoint_round_trip_and_hash_check(tmp_path):
    from tests.conftest import make_tiny_checkpoint

    ckpt = make_tiny_checkpoint()
    card = save_checkpoint(ckpt, tmp_path)
    back = load_checkpoint(tmp_path)
    assert back.tokenizer.vocab == ckpt.tokenizer.vocab and back.card["sha256"] == card["sha256"]
    for a, b in zip(ckpt.model.parameters(), back.model.parameters()):
        assert torch.equal(a, b)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(CheckpointError, match=card["sha256"]) as err:
        load_checkpoint(tmp_path)
    assert "model.safetensors" in str(err.value)


def test_shipped_checkpoint_loads_and_is_small():
    from unigap.models.tiny.checkpoint import WEIGHTS, shipped_path

    path = shipped_path()
    if not (path / WEIGHTS).exists():
        pytest.skip("no shipped checkpoint in this checkout yet")
    assert (path / WEIGHTS).stat().st_size <= 20 * 2**20
    ckpt = load_checkpoint(path)
    assert ckpt.card["eval"]["prompts_per_subtask"] == 40
    # the card says it was made by configs/pretrain_tiny.yaml: hold the file to that
    from pathlib import Path

    from unigap.config import load_config

    config = Path(__file__).resolve().parents[2] / "configs" / "pretrain_tiny.yaml"
    assert ckpt.card["pretrain"] == recipe_dict(load_config(PretrainConfig, config))


def test_init_from_continues_a_checkpoint_and_writes_snapshots(tmp_path):
    base = pretrain(PretrainConfig(steps=2, checkpoint_every=100, **SMALL), tmp_path / "base")
    cfg = PretrainConfig(
        steps=4,
        checkpoint_every=100,
        init_from=str(tmp_path / "base"),
        snapshots=[1, 3],
        self_play=SelfPlayConfig(frac=0.9, start=0, every=2, pool=4),
        **SMALL,
    )
    losses = []
    cont = pretrain(cfg, tmp_path / "cont", lambda step, s: losses.append(s["loss"]))
    assert len(losses) == 4 and all(torch.isfinite(torch.tensor(losses)))
    assert cont.card["init"]["sha256"] == base.card["sha256"] and cont.card["pretrain"]["init_from"] == str(
        tmp_path / "base"
    )
    assert any(not torch.equal(a, b) for a, b in zip(base.model.parameters(), cont.model.parameters()))
    two, four = load_checkpoint(tmp_path / "cont" / "step_1"), load_checkpoint(tmp_path / "cont" / "step_3")
    assert (two.card["steps"], four.card["steps"], load_checkpoint(tmp_path / "cont").card["steps"]) == (1, 3, 4)
    assert any(not torch.equal(a, b) for a, b in zip(two.model.parameters(), four.model.parameters()))
    assert "init_from" not in recipe_dict(PretrainConfig())  # cards of from-scratch runs are unchanged


def test_shipped_names_resolve_and_unknown_names_are_refused():
    from unigap.models.tiny.checkpoint import resolve_path, shipped_path

    assert resolve_path(None) == shipped_path() == resolve_path("tiny")
    assert resolve_path("strong-judge") == shipped_path("strong-judge")
    assert resolve_path("some/dir") == __import__("pathlib").Path("some/dir")
    with pytest.raises(CheckpointError, match="strong-judge"):
        shipped_path("nope")


def test_shipped_strong_judge_loads_by_name_and_its_card_names_its_recipe():
    from pathlib import Path

    from unigap.config import load_config
    from unigap.models.base import ModelConfig, load_model
    from unigap.models.tiny.checkpoint import WEIGHTS, shipped_path

    if not (shipped_path("strong-judge") / WEIGHTS).exists():
        pytest.skip("no strong-judge checkpoint in this checkout yet")
    model = load_model(ModelConfig(name="tiny", path="strong-judge"))
    card = model.ckpt.card
    config = Path(__file__).resolve().parents[2] / "configs" / "pretrain_strong_judge.yaml"
    assert card["pretrain"] == recipe_dict(load_config(PretrainConfig, config))
    assert card["init"]["sha256"] == load_checkpoint("tiny").card["sha256"]  # it continues the shipped tiny model
    # the final checkpoint of the recipe or one of its snapshots
    # (constant lr: the snapshot after k steps is the k-step recipe)
    assert card["steps"] in (card["pretrain"]["steps"], *card["pretrain"].get("snapshots", []))
    assert card["init"]["path"] == "unigap/assets/tiny"  # package-relative: the card reads the same on every machine
