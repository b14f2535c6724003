"""A throwaway plugin package (the minimal backend of docs/backends.md) discovered through an
entry point and audited; a broken entry point does not stop the others."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests._plugins import install
from unigap.models.base import MODELS, ModelConfig, load_model

DOC = Path(__file__).resolve().parents[2] / "docs" / "backends.md"


def doc_backend() -> str:
    """The `# unigap_toy.py` code block of the guide, verbatim."""
    blocks = re.findall(r"```python\n(# unigap_toy\.py\n.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 1, "docs/backends.md must hold exactly one `# unigap_toy.py` block"
    return blocks[0]


@pytest.fixture
def plugin_site(tmp_path, monkeypatch):
    """A directory on sys.path holding the guide's module and a dist-info with its entry points."""
    return install(
        tmp_path / "site",
        "unigap_toy_plugin",
        "unigap_toy",
        doc_backend(),
        "[unigap.models]\ntoy = unigap_toy:load_toy\nbroken = unigap_toy_missing_module:load\n"
        "[unigap.judges]\nbright = unigap_toy:load_bright\n"
        "[unigap.suites]\ncolours = unigap_toy:load_colours\n",
        monkeypatch,
    )


def test_plugin_discovered_listed_and_broken_one_reported(plugin_site):
    from unigap.cli import get_app

    app = get_app()

    assert "toy" in MODELS.names() and "broken" not in MODELS.names()
    entry = MODELS.entry("toy")
    assert entry.source == "unigap-toy-plugin" and MODELS.options_class("toy").__name__ == "Options"
    assert MODELS.extra("toy", "synthetic") is not None
    assert "janus" in MODELS.names()  # the built-ins still work
    result = CliRunner().invoke(app, ["plugins"])
    assert result.exit_code == 0 and "toy" in result.output, result.output
    import io

    from rich.console import Console

    from unigap.cli.plugins import plugins_table

    wide = Console(file=io.StringIO(), width=300)
    wide.print(plugins_table())
    text = wide.file.getvalue()
    toy = next(line for line in text.splitlines() if " toy " in line)
    assert "unigap-toy-plugin" in toy and "brightness" in toy and "ok" in toy
    broken = next(line for line in text.splitlines() if " broken " in line)
    assert "import failed" in broken and "ModuleNotFoundError" in broken
    with pytest.raises(Exception, match="broken.*failed to import"):
        load_model(ModelConfig(name="broken"))


def test_audit_with_the_plugin_backend(plugin_site, tmp_path):
    from unigap.cli import get_app

    app = get_app()
    from unigap.store import RunStore

    ckpt = tmp_path / "toy_ckpt"
    runner = CliRunner()
    r = runner.invoke(app, ["model", "synthetic", "toy", "--out", str(ckpt)])
    assert r.exit_code == 0, r.output
    run = tmp_path / "run"
    args = [
        "audit",
        "--out",
        str(run),
        "model.name=toy",
        f"model.path={ckpt}",
        "model.options.brightness=0.3",
        "n=2",
        "prompts.per_subtask=1",
        "n_boot=10",
    ]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    with RunStore.open(run, create=False) as store:
        assert store.counts()["candidates"] == {"base": 18}  # 9 subtasks x 1 prompt x 2
        assert store.get_meta("provenance")["model_fingerprint"]["backend"] == "toy"
        selfs = [j for j in store.judgments() if j.judge == "self"]
        assert len(selfs) == 18 and {j.status for j in selfs} == {"ok"}
    bad = [a if a != str(run) else str(tmp_path / "run2") for a in args] + ["model.options.colour=1"]
    r = runner.invoke(app, bad)
    message = r.output + str(r.exception)
    assert r.exit_code != 0 and "model.options.colour" in message and "brightness" in message


def test_improve_step_with_the_plugin(plugin_site):
    import torch

    model = load_model(ModelConfig(name="toy"))
    from unigap.models.base import SamplingConfig

    gen = model.generate(["a", "b"], [1, 2], SamplingConfig())
    before = model.module()["logits"].detach().clone()
    loss = -model.image_logprobs(["a", "b"], gen.tokens).mean()
    loss.backward()
    torch.optim.SGD(model.components()["llm"], lr=1.0).step()
    assert torch.isfinite(loss) and not torch.equal(before, model.module()["logits"].detach())


def test_audit_with_the_plugin_suite_and_judge(plugin_site, tmp_path):
    """The guide's judge and suite: registered, listed and used by an audit (factory(cfg, options) for each)."""
    import warnings

    from unigap.cli import get_app
    from unigap.judges.base import JUDGES
    from unigap.prompts.base import SUITES
    from unigap.store import RunStore

    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # the guide's factories follow the current convention
        assert "bright" in JUDGES.names() and "colours" in SUITES.names()
    run = tmp_path / "run"
    r = CliRunner().invoke(
        get_app(),
        [
            "audit",
            "--out",
            str(run),
            "model.name=toy",
            "prompts.suite=colours",
            "prompts.options={per_colour: 1}",
            "prompts.subtasks=[red, blue]",
            "judges=[{name: bright, options: {threshold: 0.3}}]",
            "n=2",
            "n_boot=10",
        ],
    )
    assert r.exit_code == 0, r.output
    with RunStore.open(run, create=False) as store:
        assert sorted(p.id for p in store.prompts()) == ["colours/blue/eval/0", "colours/red/eval/0"]
        bright = [j for j in store.judgments() if j.judge == "bright"]
        assert len(bright) == 4 and all(j.raw.startswith("brightness ") for j in bright)
