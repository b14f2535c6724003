"""Bad input, table-driven: each row is a command with one mistake. Every row must fail with a
UnigapError whose text names the file / line / key, and leave the files under the test directory
exactly as they were (nothing written, nothing changed)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from unigap.audit.runner import AuditConfig, run_audit
from unigap.cli import get_app
from unigap.curation.curate import CurateConfig
from unigap.curation.dataset import write_curation
from unigap.errors import UnigapError
from unigap.judges.base import JudgeConfig
from unigap.models.base import ModelConfig
from unigap.prompts.base import SuiteConfig

runner = CliRunner()


@dataclass
class Ctx:
    root: Path  # the row's own directory: everything it may touch lives here
    ckpt: Path  # a random tiny checkpoint
    run: Path  # an audited run (train split)
    data: Path  # curated from `run`

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(text)
        return path


@dataclass
class Row:
    id: str
    args: Callable[[Ctx], list]  # the command line
    expect: list[str]  # substrings of the error (file, line or key named)
    setup: Callable[[Ctx], None] = field(default=lambda c: None)


def audit(*extra):
    return lambda c: ["audit", "--out", c.root / "out", f"model.path={c.ckpt}", "prompts.per_subtask=1", "n=1", *extra]


def audit_cfg(name, text, *extra):
    return lambda c: ["audit", "--config", c.write(name, text), "--out", c.root / "out", f"model.path={c.ckpt}", *extra]


def run(*extra):
    return lambda c: ["run", "--out", c.root / "out", f"model.path={c.ckpt}", *extra]


def custom(name, text):
    return lambda c: [
        "audit",
        "--out",
        c.root / "out",
        f"model.path={c.ckpt}",
        "prompts.suite=custom",
        f"prompts.options.path={c.write(name, text)}",
        "n=1",
    ]


def improve(*extra, data=None):
    return lambda c: [
        "improve",
        "--config",
        Path(__file__).parents[2] / "configs" / "sft_tiny.yaml",
        "--data",
        data(c) if data else c.data,
        "--out",
        c.root / "out",
        f"model.path={c.ckpt}",
        *extra,
    ]


def copy_data_without(name):
    def setup(c):
        shutil.copytree(c.data, c.root / "data")
        (c.root / "data" / name).unlink()

    return setup


def broken_ckpt(kind):
    def setup(c):
        shutil.copytree(c.ckpt, c.root / "ckpt")
        if kind == "truncate":
            w = c.root / "ckpt" / "model.safetensors"
            w.write_bytes(w.read_bytes()[:1000])
        else:
            card = json.loads((c.root / "ckpt" / "card.json").read_text())
            card["sha256"] = "0" * 64
            (c.root / "ckpt" / "card.json").write_text(json.dumps(card))

    return setup


def newer_run(c):
    import sqlite3

    shutil.copytree(c.run, c.root / "newer")
    db = sqlite3.connect(c.root / "newer" / "run.sqlite")
    with db:
        db.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    db.close()


ROWS = [
    Row("malformed-yaml", audit_cfg("bad.yaml", "n: [1, 2\nseed: 0\n"), ["bad.yaml", "invalid YAML", "line"]),
    Row("yaml-not-mapping", audit_cfg("list.yaml", "- 1\n- 2\n"), ["list.yaml", "mapping"]),
    Row("unknown-top-key", audit_cfg("top.yaml", "seed: 0\nnn: 3\n"), ["top.yaml:2", "unknown key 'nn'", "valid keys"]),
    Row(
        "unknown-nested-key",
        audit_cfg("nest.yaml", "model:\n  name: tiny\n  bach_size: 3\n"),
        ["nest.yaml:3", "model.bach_size", "batch_size"],
    ),
    Row("wrong-type", audit("n=many"), ["override 'n=many'", "'n'", "integer"]),
    Row("override-not-kv", audit("n"), ["override 'n'", "key=value"]),
    Row("n-zero", audit("n=0"), ["'n'", "greater than or equal to 1"]),
    Row("n-negative", audit("n=-3"), ["'n'", "greater than or equal to 1"]),
    Row("per-subtask-zero", audit("prompts.per_subtask=0"), ["prompts.per_subtask"]),
    Row("chunk-size-zero", audit("chunk_size=0"), ["'chunk_size'"]),
    Row("threshold-above-1", audit("self_judge.threshold=1.5"), ["self_judge.threshold", "less than or equal to 1"]),
    Row("cfg-negative", audit("sampling.cfg_scale=-1"), ["sampling.cfg_scale"]),
    Row("temperature-zero", audit("sampling.temperature=0"), ["sampling.temperature", "greater than 0"]),
    Row("eval-n-zero", run("eval_n=0"), ["'eval_n'"]),
    Row("epochs-zero", run("improve.epochs=0"), ["improve.epochs"]),
    Row("improve-batch-zero", run("improve.train_batch_size=0"), ["improve.train_batch_size"]),
    Row("grad-accum-zero", run("improve.grad_accum=0"), ["improve.grad_accum"]),
    Row("lr-zero", run("improve.lr=0"), ["improve.lr", "greater than 0"]),
    Row("beta-zero", run("improve.beta=0"), ["improve.beta"]),
    Row("curriculum-n-zero", run("improve.curriculum.n=0"), ["improve.curriculum.n"]),
    Row("curriculum-after-last-epoch", run("improve.curriculum.epoch=9"), ["curriculum.epoch (9)", "epochs (8)"]),
    Row("guard-threshold", run("improve.guard.threshold=2"), ["improve.guard.threshold"]),
    Row(
        "pairs-per-prompt-zero",
        lambda c: ["curate", c.run, "--out", c.root / "out", "pairs_per_prompt=0"],
        ["pairs_per_prompt"],
    ),
    Row("improve-set-inside-run", run("improve.self_judge.mode=prob"), ["improve.self_judge", "top-level"]),
    Row("unknown-model", audit("model.name=nope"), ["unknown model 'nope'", "tiny"]),
    Row("unknown-judge", audit_cfg("j.yaml", "judges:\n  - name: nope\n"), ["unknown judge 'nope'", "oracle"]),
    Row("unknown-suite", audit("prompts.suite=nope"), ["unknown suite 'nope'", "shapeworld"]),
    Row("unknown-suite-option", audit("prompts.options.seeed=1"), ["prompts.options.seeed", "unknown option", "seed"]),
    Row(
        "unknown-judge-option",
        audit_cfg("o.yaml", "judges:\n  - name: http\n    options: {base_ulr: x}\n"),
        ["judges[0][http].options.base_ulr", "unknown option", "base_url"],
    ),
    Row(
        "judge-option-type",
        audit_cfg("t.yaml", "judges:\n  - name: http\n    options: {concurrency: lots}\n"),
        ["options.concurrency"],
    ),
    Row("unknown-model-option", audit("model.options.steps=3"), ["model.options.steps", "unknown option"]),
    Row("unknown-selector", run("curate.selector=qwen"), ["curate.selector", "'qwen'"]),
    Row(
        "missing-prompt-file",
        lambda c: [*audit("prompts.suite=custom")(c), f"prompts.options.path={c.root / 'no.jsonl'}"],
        ["no.jsonl", "not found"],
    ),
    Row(
        "bad-jsonl-line",
        custom("p.jsonl", '{"prompt": "a red circle", "subtask": "s"}\n{"prompt": oops}\n'),
        ["p.jsonl:2", "invalid JSON"],
    ),
    Row("bad-csv-row", custom("p.csv", "prompt,subtask\na red circle,s,extra\n"), ["p.csv:2", "more cells"]),
    Row("jsonl-missing-field", custom("m.jsonl", '{"prompt": "a red circle"}\n'), ["m.jsonl:1", "subtask"]),
    Row("empty-prompt-file", custom("e.txt", ""), ["prompts", "no prompts"]),
    Row(
        "duplicate-ids",
        custom("d.jsonl", '{"id": "x", "prompt": "a", "subtask": "s"}\n{"id": "x", "prompt": "b", "subtask": "s"}\n'),
        ["d.jsonl", "duplicate id 'x'"],
    ),
    Row(
        "model-path-missing",
        lambda c: ["audit", "--out", c.root / "out", f"model.path={c.root / 'nowhere'}"],
        ["nowhere"],
    ),
    Row(
        "dir-not-a-checkpoint",
        lambda c: ["audit", "--out", c.root / "out", f"model.path={c.root}"],
        ["card.json", "tiny-model checkpoint"],
    ),
    Row(
        "truncated-checkpoint",
        lambda c: ["audit", "--out", c.root / "out", f"model.path={c.root / 'ckpt'}"],
        ["model.safetensors", "sha256"],
        broken_ckpt("truncate"),
    ),
    Row(
        "hash-mismatch",
        lambda c: ["audit", "--out", c.root / "out", f"model.path={c.root / 'ckpt'}"],
        ["model.safetensors", "does not match"],
        broken_ckpt("hash"),
    ),
    Row(
        "data-missing-file",
        improve(data=lambda c: c.root / "data"),
        ["dpo.parquet", "incomplete"],
        copy_data_without("dpo.parquet"),
    ),
    Row(
        "data-no-manifest",
        improve(data=lambda c: c.root / "data"),
        ["manifest.json"],
        copy_data_without("manifest.json"),
    ),
    Row(
        "data-from-another-model",
        lambda c: [*improve()(c), "model.name=janus", f"model.path={c.root / 'janus'}"],
        ["incompatible"],
        lambda c: __import__("unigap.models.janus.synthetic", fromlist=["x"]).write_synthetic(c.root / "janus"),
    ),
    Row(
        "newer-schema-run",
        lambda c: ["audit", "--out", c.root / "newer", f"model.path={c.ckpt}"],
        ["schema version 999", "newer"],
        newer_run,
    ),
    Row(
        "out-is-a-file",
        lambda c: ["audit", "--out", c.write("file.txt", "x"), f"model.path={c.ckpt}"],
        ["file.txt", "is a file"],
    ),
    Row("curate-out-is-a-file", lambda c: ["curate", c.run, "--out", c.write("f2.txt", "x")], ["f2.txt", "is a file"]),
    Row("curate-not-a-run", lambda c: ["curate", c.root, "--out", c.root / "out"], ["not a run directory"]),
    Row(
        "label-csv-bad-row",
        lambda c: [
            "label",
            "import",
            c.run,
            "--csv",
            c.write("l.csv", "candidate_id,label\n1,1\nx,2\n"),
            "--name",
            "ann",
        ],
        ["l.csv", "line 3"],
    ),
]


# ---- issue 23: inputs that used to be accepted and fail late, or fail with a traceback ------------------


def custom_judged(name, text, *extra):
    """A custom prompt file audited without external judges (the oracle needs ShapeWorld specs)."""
    return lambda c: [*custom(name, text)(c), "judges=[]", *extra]


def copy_run(c) -> Path:
    shutil.copytree(c.run, c.root / "run")
    return c.root / "run"


def sql(run: Path, *statements: str) -> None:
    import sqlite3

    db = sqlite3.connect(run / "run.sqlite")
    with db:
        for st in statements:
            db.execute(st)
    db.close()


def unfinished_audit(c):
    """The audit killed midway: its stage still running, the poisoned judge's verdicts not all stored."""
    run = copy_run(c)
    sql(
        run,
        "UPDATE stages SET status = 'running' WHERE name = 'audit'",
        "DELETE FROM judgments WHERE judge = 'poisoned' AND candidate_id > 10",
    )


def truncate(rel: str, source: str = "metrics.json"):
    def setup(c):
        run = copy_run(c)
        text = (run / source).read_text()
        (run / rel).write_text(text[: len(text) // 2])

    return setup


def replace_pngs(c):
    """Every candidate image replaced by another valid PNG (a file name is its content's hash)."""
    from PIL import Image

    run = copy_run(c)
    for p in (run / "images").rglob("*.png"):
        Image.new("RGB", (32, 32), (1, 2, 3)).save(p)


def copy_data_with(edit):
    def setup(c):
        shutil.copytree(c.data, c.root / "data")
        edit(c.root / "data")

    return setup


def mark_partial(data: Path) -> None:
    m = json.loads((data / "manifest.json").read_text())
    (data / "manifest.json").write_text(json.dumps({**m, "partial": "stage 'audit' is running (6 of 36 candidates)"}))


def swap_parquet(data: Path) -> None:
    shutil.copy(data / "discard.parquet", data / "sft.parquet")


def cut_manifest(data: Path) -> None:
    text = (data / "manifest.json").read_text()
    (data / "manifest.json").write_text(text[: len(text) // 2])


def improved(*extra):
    """An improve run (one epoch) in ROOT/out, made before the row's command runs."""

    def setup(c):
        argv = improve("epochs=1", "curriculum.epoch=1", "guard.threshold=0", *extra)(c)
        result = runner.invoke(get_app(), [str(a) for a in argv])
        assert result.exit_code == 0, result.output

    return setup


def edit_latest(c):
    improved()(c)
    (c.root / "out" / "LATEST").write_text("000009\n")


def custom_run(first: str):
    """A finished audit of a custom prompt file in ROOT/out; the row then edits the file and reruns."""

    def setup(c):
        c.write("p.jsonl", first)
        result = runner.invoke(get_app(), [str(a) for a in custom_judged("p.jsonl", first)(c)])
        assert result.exit_code == 0, result.output

    return setup


def lines(*rows: tuple[str, str]) -> str:
    return "".join(json.dumps({"id": i, "prompt": text, "subtask": "s"}) + "\n" for i, text in rows)


PROMPTS_V1 = lines(("a", "a red circle"), ("b", "a blue square"), ("c", "a green cross"))
PROMPTS_V2 = lines(("a", "a big red circle"), ("b", "a blue square"), ("d", "a small cross"))
PROMPTS_ADDED = PROMPTS_V1 + lines(("d", "a small cross"))


def dead_port() -> int:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there
    return port


def no_gpu(row_id: str) -> bool:
    import torch

    return row_id.startswith("device-cuda") and torch.cuda.is_available()


ROWS_ISSUE_23 = [
    Row(
        "config-missing",
        lambda c: ["audit", "--config", "configs/no_such_tiny.yaml", "--out", c.root / "out"],
        ["configs/no_such_tiny.yaml", "config file not found", "current directory"],
    ),
    Row(
        "config-is-a-directory",
        lambda c: ["audit", "--config", c.root, "--out", c.root / "out"],
        ["is a directory, not a YAML config file"],
    ),
    Row(
        "pretrain-config-is-a-directory",
        lambda c: ["pretrain", "--config", c.root, "--out", c.root / "out"],
        ["is a directory"],
    ),
    Row(
        "pretrain-init-from-missing",
        lambda c: [
            "pretrain",
            "--config",
            Path(__file__).parents[2] / "configs" / "pretrain_tiny.yaml",
            "--out",
            c.root / "out",
            f"init_from={c.root / 'nowhere'}",
            "--dry-run",
        ],
        ["nowhere", "no checkpoint card"],
    ),
    Row(
        "pretrain-snapshot-after-the-end",
        lambda c: [
            "pretrain",
            "--config",
            Path(__file__).parents[2] / "configs" / "pretrain_tiny.yaml",
            "--out",
            c.root / "out",
            "steps=10",
            "snapshots=[20]",
        ],
        ["snapshots", "[20]"],
    ),
    Row(
        "understand-data-missing",
        run("understand.tasks=[shapeworld_plain]", "understand.data={shapeworld_plain: /no/such/dir}"),
        ["understand.data", "no such file", "/no/such/dir"],
    ),
    Row("seed-negative", audit("seed=-1"), ["'seed'", "greater than or equal to 0"]),
    Row("seed-too-large", audit(f"seed={2**64}"), ["'seed'", "less than or equal to"]),
    Row("run-seed-negative", run("seed=-1"), ["'seed'"]),
    Row("improve-seed-negative", improve("seed=-3"), ["'seed'"]),
    Row("device-cuda-without-gpu", audit("model.device=cuda"), ["model.device", "'cuda'", "no GPU"]),
    Row("device-cuda-without-gpu-improve", improve("model.device=cuda:1"), ["model.device", "no GPU"]),
    Row(
        "device-cuda-without-gpu-janus",
        audit("model.name=janus", "model.path=nowhere", "model.device=cuda"),
        ["model.device", "no GPU"],
    ),
    Row("device-not-a-device", audit("model.device=gpu0"), ["model.device", "'gpu0'"]),
    Row("huge-job-needs-yes", audit("n=100000", "prompts.per_subtask=20"), ["18,000,000 candidates", "--yes", "about"]),
    Row(
        "prompt-too-long",
        custom_judged("long.jsonl", json.dumps({"prompt": "a red circle " * 770, "subtask": "s"})),
        ["cannot take", "custom/long/00001", "10009 characters"],
    ),
    Row(
        "custom-prompts-with-oracle",
        custom("c.jsonl", '{"prompt": "a red circle", "subtask": "s"}\n'),
        ["oracle judge needs ShapeWorld prompts", "custom/c/00001", "judges=[]"],
    ),
    Row(
        "prompt-file-edited",
        custom_judged("p.jsonl", PROMPTS_V2),
        ["text changed: 'a'", "added: 'd'", "removed: 'c'"],
        custom_run(PROMPTS_V1),
    ),
    Row(
        "prompt-file-grew",
        custom_judged("p.jsonl", PROMPTS_ADDED),
        ["added: 'd'", "--add-prompts"],
        custom_run(PROMPTS_V1),
    ),
    Row(
        "prompt-text-changed-with-flag",
        lambda c: [*custom_judged("p.jsonl", PROMPTS_V2)(c), "--add-prompts"],
        ["text changed: 'a'"],
        custom_run(PROMPTS_V1),
    ),
    Row(
        "http-judge-dead-port",
        lambda c: audit(f"judges=[{{name: http, options: {{base_url: 'http://127.0.0.1:{dead_port()}'}}}}]")(c),
        ["http judge: cannot connect to 127.0.0.1", "is the server running"],
    ),
    Row(
        "curate-unfinished-audit",
        lambda c: ["curate", c.root / "run", "--out", c.root / "data", "selector=poisoned"],
        ["the audit did not finish", "stage 'audit' is running", "candidates", "--allow-partial"],
        unfinished_audit,
    ),
    Row(
        "curate-dry-run-unfinished-audit",
        lambda c: ["curate", c.root / "run", "--out", c.root / "data", "--dry-run"],
        ["the audit did not finish"],
        unfinished_audit,
    ),
    Row(
        "curate-image-replaced",
        lambda c: ["curate", c.root / "run", "--out", c.root / "data", "selector=poisoned", "rule=all_accepted"],
        ["does not match its content hash", "images/"],
        replace_pngs,
    ),
    Row(
        "improve-partial-data",
        improve(data=lambda c: c.root / "data"),
        ["did not finish", "--allow-partial"],
        copy_data_with(mark_partial),
    ),
    Row(
        "improve-dry-run-partial-data",
        lambda c: [*improve(data=lambda c: c.root / "data")(c), "--dry-run"],
        ["did not finish"],
        copy_data_with(mark_partial),
    ),
    Row(
        "improve-parquet-replaced",
        improve(data=lambda c: c.root / "data"),
        ["sft.parquet", "sha256 differs"],
        copy_data_with(swap_parquet),
    ),
    Row(
        "improve-manifest-cut",
        improve(data=lambda c: c.root / "data"),
        ["manifest.json", "not valid JSON"],
        copy_data_with(cut_manifest),
    ),
    Row(
        "improve-resume-other-config",
        improve("epochs=2", "curriculum.epoch=1", "guard.threshold=0", "lr=0.5"),
        ["another config", "lr"],
        improved(),
    ),
    Row(
        "improve-latest-edited",
        improve("epochs=2", "curriculum.epoch=1", "guard.threshold=0"),
        ["LATEST", "000009", "missing"],
        edit_latest,
    ),
    Row(
        "show-metrics-cut",
        lambda c: ["show", c.root / "run"],
        ["metrics.json", "not valid JSON"],
        truncate("metrics.json"),
    ),
    Row(
        "show-analysis-cut",
        lambda c: ["show", c.root / "run"],
        ["analysis.json", "not valid JSON", "unigap analyse"],
        truncate("analysis.json"),
    ),
    Row(
        "report-analysis-cut",
        lambda c: ["report", c.root / "run", "--out", c.root / "r.html"],
        ["analysis.json", "not valid JSON"],
        truncate("analysis.json"),
    ),
    Row(
        "analyse-unfinished-run",
        lambda c: ["analyse", c.root / "run"],
        ["did not finish", "--allow-partial"],
        unfinished_audit,
    ),
    Row(
        "report-unfinished-run",
        lambda c: ["report", c.root / "run", "--out", c.root / "r.html"],
        ["did not finish", "--allow-partial"],
        unfinished_audit,
    ),
    Row("report-out-is-a-directory", lambda c: ["report", c.run, "--out", c.root], ["is a directory"]),
]
ROWS += ROWS_ISSUE_23


def _janus_row_needs_hf(row: Row) -> bool:
    return row.id == "data-from-another-model"


def _needs_lmms(row: Row) -> bool:
    return row.id.startswith("understand-")


@pytest.fixture(scope="module")
def shared(tmp_path_factory, tiny_ckpt_dir):
    root = tmp_path_factory.mktemp("bad_input")
    run_dir, data = root / "run", root / "run" / "data"
    cfg = AuditConfig(
        model=ModelConfig(path=str(tiny_ckpt_dir)),
        prompts=SuiteConfig(split="train", per_subtask=2),
        n=2,
        n_boot=10,
        judges=[JudgeConfig(name="oracle"), JudgeConfig(name="poisoned")],
    )
    run_audit(cfg, run_dir)
    # the random model accepts nothing; the inverted oracle accepts most images: data to train on
    write_curation(run_dir, data, CurateConfig(rule="all_accepted", selector="poisoned"))
    return tiny_ckpt_dir, run_dir, data


def snapshot(*roots: Path) -> dict[str, str]:
    out = {}
    for root in roots:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
            elif p.is_dir():
                out[str(p)] = "dir"
    return out


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input_is_refused_before_anything_is_written(row, shared, tmp_path):
    if _janus_row_needs_hf(row):
        pytest.importorskip("transformers")
    if no_gpu(row.id):
        pytest.skip("this machine has a GPU")
    if _needs_lmms(row):
        pytest.importorskip("lmms_eval")
    ckpt, run_dir, data = shared
    ctx = Ctx(tmp_path, ckpt, run_dir, data)
    row.setup(ctx)
    args = [str(a) for a in row.args(ctx)]  # writes the row's input files
    before = snapshot(tmp_path, run_dir, ckpt)
    result = runner.invoke(get_app(), args)
    assert isinstance(result.exception, UnigapError), f"{row.id}: {result.exception!r}\n{result.output}"
    message = str(result.exception)
    for text in row.expect:
        assert text in message, f"{row.id}: {text!r} not in:\n{message}"
    assert snapshot(tmp_path, run_dir, ckpt) == before, f"{row.id}: files changed"


def test_table_has_every_row_of_issue_23():
    assert len(ROWS) >= 80 and len({r.id for r in ROWS}) == len(ROWS)


def test_a_typo_then_the_fix_into_the_same_out_dir_works(tmp_path, tiny_ckpt_dir):
    """The issue's case: a bad model.name used to store the config, and the fixed rerun was refused."""
    args = [
        "audit",
        "--out",
        str(tmp_path / "out"),
        f"model.path={tiny_ckpt_dir}",
        "prompts.per_subtask=1",
        "n=1",
        "n_boot=10",
    ]
    bad = runner.invoke(get_app(), [*args, "model.name=tinyy"])
    assert isinstance(bad.exception, UnigapError) and not (tmp_path / "out").exists()
    good = runner.invoke(get_app(), args)
    assert good.exit_code == 0, good.output
    assert (tmp_path / "out" / "metrics.json").is_file()


def test_a_different_config_leaves_the_existing_run_untouched(shared, tmp_path):
    ckpt, run_dir, _ = shared
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    before = snapshot(copy)
    result = runner.invoke(get_app(), ["audit", "--out", str(copy), f"model.path={ckpt}", "n=5"])
    assert isinstance(result.exception, UnigapError) and "these keys differ" in str(result.exception)
    assert snapshot(copy) == before
