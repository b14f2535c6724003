"""A plugin written from docs/backends.md alone (tests/plugins/newcomer/unigap_stripes.py: an audit-only
backend and a prompt suite), installed by entry points and used by `unigap plugins` and `unigap audit`."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from tests._plugins import install
from unigap.models.base import MODELS, ModelConfig, SamplingConfig, SelfJudgeConfig, load_model
from unigap.verdict import question

PLUGIN = Path(__file__).parent / "newcomer" / "unigap_stripes.py"


@pytest.fixture
def stripes_site(tmp_path, monkeypatch):
    return install(
        tmp_path / "site",
        "unigap_stripes",
        "unigap_stripes",
        PLUGIN.read_text(),
        "[unigap.models]\nstripes = unigap_stripes:load_stripes\n"
        "[unigap.suites]\nstripe-colours = unigap_stripes:load_stripe_colours\n",
        monkeypatch,
    )


def test_listed_by_unigap_plugins(stripes_site):
    from rich.console import Console

    from unigap.cli.plugins import plugins_table

    console = Console(file=io.StringIO(), width=300)
    console.print(plugins_table())
    lines = console.file.getvalue().splitlines()
    assert any(" stripes " in line and "unigap-stripes" in line and "bias" in line and "ok" in line for line in lines)
    assert any(" stripe-colours " in line and "per_colour" in line for line in lines)
    assert not MODELS.entry("stripes").legacy


def test_the_checklist(stripes_site):
    """docs/backends.md's checklist, what applies to a backend without weights."""
    model = load_model(ModelConfig(name="stripes", options={"bias": 6}))
    texts, seeds, s = ["a red flag", "a blue flag", "a green flag"], [5, 6, 7], SamplingConfig()
    batch = model.generate(texts, seeds, s)
    alone = torch.cat([model.generate([t], [sd], s).tokens for t, sd in zip(texts, seeds)])
    assert torch.equal(batch.tokens, alone) and batch.tokens.shape == (3, 8) and batch.images.shape == (3, 32, 32, 3)
    assert torch.equal(model.decode(batch.tokens), batch.images)
    probs = model.judge(batch.images, texts, SelfJudgeConfig(mode="prob"))
    shares = [float((row == c).float().mean()) for row, c in zip(batch.tokens, [0, 2, 1])]  # red, blue, green
    assert [j.prob for j in probs] == shares == model.score_probs(batch.images, [question(t) for t in texts])
    from unigap.errors import UnigapError
    from unigap.training.improve import check_trainable

    with pytest.raises(UnigapError, match="the 'stripes' backend declares trainable = False") as err:
        check_trainable(model)
    assert "HTTP" not in str(err.value)  # what the plugin declared, not a guess at why


def test_audit_with_the_newcomer_plugin(stripes_site, tmp_path):
    from unigap.cli import get_app
    from unigap.store import RunStore

    runner, app = CliRunner(), get_app()
    default = tmp_path / "default"  # the guide's command: the default (ShapeWorld) prompts and oracle judge
    r = runner.invoke(
        app,
        [
            "audit",
            "--out",
            str(default),
            "model.name=stripes",
            "model.options.bias=6",
            "n=2",
            "prompts.per_subtask=1",
            "n_boot=10",
        ],
    )
    assert r.exit_code == 0, r.output
    own = tmp_path / "own"
    r = runner.invoke(
        app,
        [
            "audit",
            "--out",
            str(own),
            "model.name=stripes",
            "prompts.suite=stripe-colours",
            "judges=[]",
            "self_judge.mode=prob",
            "n=4",
            "n_boot=10",
        ],
    )
    assert r.exit_code == 0, r.output
    with RunStore.open(default, create=False) as store:
        assert store.counts()["candidates"] == {"base": 18}
        assert store.get_meta("provenance")["model_fingerprint"]["backend"] == "stripes"
    with RunStore.open(own, create=False) as store:
        assert store.counts()["candidates"] == {"base": 48}  # 4 colours x 3 prompts x 4
        selfs = [j for j in store.judgments() if j.judge == "self"]
        assert len(selfs) == 48 and all(j.status == "ok" and j.verdict == int(j.prob > 0.5) for j in selfs)
