"""`unigap judge RUN --judge NAME`: adds a scorer's verdicts and scores to a stored run, resumes
after an interruption, never re-judges, retries failures on request, rejects bad options."""

from __future__ import annotations

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

pytest.importorskip("transformers")

from tests.judges._scorer_tiny import save_clip  # noqa: E402
from unigap.cli.judge import judge_run, parse_options, register  # noqa: E402
from unigap.errors import ConfigError, DataError  # noqa: E402
from unigap.judges.sciscore import SciScoreJudge  # noqa: E402
from unigap.records import Prompt  # noqa: E402
from unigap.store import CandidateIn, RunStore  # noqa: E402


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return save_clip(tmp_path_factory.mktemp("sciscore") / "m")


def make_run(path, n_prompts=3, per=2, suite="science-t2i", metadata=None):
    with RunStore.open(path) as store:
        store.add_prompts(
            [
                Prompt(
                    f"p{i}",
                    f"a red apple {i}",
                    "physics",
                    "eval",
                    suite,
                    band="hard",
                    metadata=metadata(i) if metadata else {},
                )
                for i in range(n_prompts)
            ]
        )
        rng = np.random.default_rng(0)
        rows = [
            CandidateIn(f"p{i // per}", i % per, i, np.arange(3), rng.integers(0, 256, (24, 24, 3), dtype=np.uint8))
            for i in range(n_prompts * per)
        ]
        store.add_candidates("base", rows[: len(rows) - 1])
        store.add_candidates("improved", rows[-1:])


def test_cli_judges_and_reports(tmp_path, clip_dir):
    make_run(tmp_path / "run")
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    res = CliRunner().invoke(
        app,
        [
            "judge",
            str(tmp_path / "run"),
            "--judge",
            "sciscore",
            f"path={clip_dir}",
            "device=cpu",
            "rule=threshold",
            "threshold=0",
            "--chunk-size",
            "2",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "sciscore: judged 6 candidates, 0 failed" in res.output and "physics: mean score" in res.output
    with RunStore.open(tmp_path / "run", create=False) as store:
        rows = store.judgments("sciscore")
    assert len(rows) == 6 and all(r.status == "ok" and r.score is not None for r in rows)
    assert all(r.verdict == int(r.score >= 0) for r in rows)
    from unigap.analysis.scores import generation_scores

    gen = generation_scores(rows, "sciscore", n_boot=50, benchmarks={"physics": "science-t2i"})  # x1 for SciScore
    assert gen["subtasks"]["physics"]["value"] == pytest.approx(sum(r.score for r in rows) / 6)
    assert gen["bands"]["hard"]["value"] == pytest.approx(gen["overall"]["value"])
    assert gen["benchmarks"]["science-t2i"]["value"] == pytest.approx(gen["overall"]["value"])


def test_resume_after_interrupt_and_source(tmp_path, clip_dir, monkeypatch):
    make_run(tmp_path / "run")
    calls = []
    real = SciScoreJudge.judge

    def interrupted(self, images, prompts):
        calls.append(len(prompts))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, images, prompts)

    monkeypatch.setattr(SciScoreJudge, "judge", interrupted)
    opts = {"path": str(clip_dir), "device": "cpu"}
    with pytest.raises(KeyboardInterrupt):
        judge_run(tmp_path / "run", "sciscore", opts, source="base", chunk_size=2)
    with RunStore.open(tmp_path / "run", create=False) as store:
        assert len(store.judgments("sciscore")) == 2  # the first batch was committed
    monkeypatch.setattr(SciScoreJudge, "judge", real)
    again = judge_run(tmp_path / "run", "sciscore", opts, source="base", chunk_size=2)
    assert again["judged"] == 3 and again["failed"] == 0  # 5 base candidates, 2 done before
    assert judge_run(tmp_path / "run", "sciscore", opts, source="base")["judged"] == 0  # nothing left
    assert judge_run(tmp_path / "run", "sciscore", opts, source="improved")["judged"] == 1


def test_failures_recorded_then_retried(tmp_path, clip_dir, monkeypatch):
    make_run(tmp_path / "run")
    real = SciScoreJudge._batch

    def broken(self, images, prompts):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(SciScoreJudge, "_batch", broken)
    opts = {"path": str(clip_dir), "device": "cpu"}
    first = judge_run(tmp_path / "run", "sciscore", opts)
    assert first["failed"] == 6
    with RunStore.open(tmp_path / "run", create=False) as store:
        assert all(r.status == "failed" and "out of memory" in r.error for r in store.judgments("sciscore"))
    monkeypatch.setattr(SciScoreJudge, "_batch", real)
    assert judge_run(tmp_path / "run", "sciscore", opts)["judged"] == 0  # failed rows count as judged
    retry = judge_run(tmp_path / "run", "sciscore", opts, retry_failed=True)
    assert retry["judged"] == 6 and retry["failed"] == 0
    with RunStore.open(tmp_path / "run", create=False) as store:
        assert all(r.status == "ok" for r in store.judgments("sciscore"))


def test_bad_options_and_bad_metadata_before_writing(tmp_path, clip_dir):
    make_run(
        tmp_path / "run",
        suite="geneval",
        metadata=lambda i: {
            "index": i,
            "geneval": {"tag": "single_object", "include": [{"class": "unicorn", "count": 1}], "prompt": "x"},
        },
    )
    with pytest.raises(ConfigError, match="nope"):
        judge_run(tmp_path / "run", "sciscore", {"nope": 1})
    with pytest.raises(DataError, match="line 1 .*unicorn"):
        judge_run(tmp_path / "run", "geneval", {"detector": str(tmp_path / "none"), "device": "cpu"})
    with RunStore.open(tmp_path / "run", create=False) as store:
        assert store.judgments("geneval") == []
    assert parse_options(["device=cuda", "thresholds.blip=0.4"]) == {"device": "cuda", "thresholds": {"blip": 0.4}}
