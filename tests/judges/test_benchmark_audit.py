"""One mixed-suite run, the paper's tables: a tiny paper9 audit (configs/audit_paper9_janus_pro_7b.yaml
with a random tiny model and the tiny random scorer models of tests/judges/_scorer_tiny.py) routes
every prompt to its own benchmark's scorer; `unigap show` and the report print Gen. / Und. / Non. per
benchmark and subtask. Every number is recomputed here from the stored judgments."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("transformers")

from tests.conftest import make_tiny_checkpoint  # noqa: E402
from tests.judges._scorer_tiny import save_blip, save_clip, save_mask2former, save_owlv2  # noqa: E402
from unigap.audit.runner import (  # noqa: E402
    AuditConfig,
    NoBar,
    audit_into,
    judge_stage,
    load_judges,
    run_audit,
    self_judge_fn,  # noqa: E402
)
from unigap.config import load_config  # noqa: E402
from unigap.errors import ConfigError, DataError  # noqa: E402
from unigap.models.base import ModelConfig, load_model  # noqa: E402
from unigap.models.tiny.checkpoint import save_checkpoint  # noqa: E402
from unigap.prompts.base import load_prompts  # noqa: E402
from unigap.store import RunStore  # noqa: E402

pytestmark = pytest.mark.slow

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "audit_paper9_janus_pro_7b.yaml"
# what the issue asks: each benchmark's prompts scored by that benchmark's scorer, in its unit
SCORER = {"geneval": "geneval", "t2i-compbench": "t2i-compbench", "science-t2i": "sciscore"}
SCALE = {"geneval": 100.0, "t2i-compbench": 100.0, "sciscore": 1.0}
TITLES = {"geneval": "GenEval", "t2i-compbench": "T2I-CompBench", "science-t2i": "Science-T2I"}
GENEVAL = [
    {"tag": "single_object", "include": [{"class": "dog", "count": 1}], "prompt": "a photo of a dog"},
    {
        "tag": "two_object",
        "include": [{"class": "dog", "count": 1}, {"class": "cat", "count": 1}],
        "prompt": "a photo of a dog and a cat",
    },
    {
        "tag": "color_attr",
        "include": [{"class": "car", "count": 1, "color": "red"}, {"class": "cup", "count": 1, "color": "blue"}],
        "prompt": "a photo of a red car and a blue cup",
    },
]
T2I = {
    "texture": ["a plastic toy and a glass bottle", "a wooden table and a glass cup"],
    "spatial": ["a giraffe next to a lamp", "a dog on the left of a cat"],
    "complex": ["The red hat was on top of the brown coat rack.", "a black dog is sitting on a wooden table"],
}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    """Tiny random scorer models, two tiny unified models (base and "improved"), paper9 prompt files."""
    root = tmp_path_factory.mktemp("bench")
    paths = {
        "m2f": save_mask2former(root / "m2f"),
        "clip": save_clip(root / "clip"),
        "blip": save_blip(root / "blip"),
        "owl": save_owlv2(root / "owl"),
    }
    for seed in (0, 1):
        save_checkpoint(make_tiny_checkpoint(seed), root / f"tiny{seed}")
    (root / "evaluation_metadata.jsonl").write_text("\n".join(json.dumps(m) for m in GENEVAL * 2))
    (root / "t2i").mkdir()
    for cat, lines in T2I.items():
        (root / "t2i" / f"{cat}_val.txt").write_text("\n".join(lines))
    (root / "complex_val_spatial.txt").write_text("The red hat was on top of the brown coat rack.\n")
    (root / "complex_val_action.txt").write_text("a black dog is sitting on a wooden table\n")
    (root / "sci.jsonl").write_text(
        "\n".join(
            json.dumps(
                {
                    "implicit_prompt": f"{c.lower()} scene {i}",
                    "explicit_prompt": "a red apple",
                    "superficial_prompt": "two dogs",
                    "category": c,
                    "law": "l",
                }
            )
            for c in ("Physics", "Chemistry", "Biology")
            for i in range(2)
        )
    )
    return {"root": root, **{k: str(v) for k, v in paths.items()}}


def scorer_options(t: dict) -> dict:
    """The tiny models in place of the published ones (device cpu, thresholds 0 for random detectors)."""
    return {
        "geneval": {
            "detector": t["m2f"],
            "clip": t["clip"],
            "device": "cpu",
            "threshold": 0.0,
            "counting_threshold": 0.0,
            "scale": [48, 32],
        },
        "t2i_compbench": {
            "blip": t["blip"],
            "clip": t["clip"],
            "detector": t["owl"],
            "device": "cpu",
            "blip_image_size": 48,
            "detector_threshold": 0.0,
            "complex_spatial_file": str(t["root"] / "complex_val_spatial.txt"),
            "complex_action_file": str(t["root"] / "complex_val_action.txt"),
        },
        "science_t2i": {"path": t["clip"], "device": "cpu"},
    }


def paper9_cfg(t: dict, **overrides) -> AuditConfig:
    """configs/audit_paper9_janus_pro_7b.yaml at test size: its `benchmark` judge entry, tiny models."""
    root = t["root"]
    cfg = load_config(
        AuditConfig,
        CONFIG,
        [
            f"prompts.options.geneval={root / 'evaluation_metadata.jsonl'}",
            f"prompts.options.t2i_compbench={root / 't2i'}",
            f"prompts.options.science_t2i={root / 'sci.jsonl'}",
            "prompts.per_subtask=2",
            "n=2",
            "n_boot=50",
            "chunk_size=8",
            "self_judge.mode=prob",
        ],
    )
    (entry,) = cfg.judges
    assert entry.name == "benchmark"
    options = {b: {**(entry.options.get(b) or {}), **o} for b, o in scorer_options(t).items()}
    model = ModelConfig(name="tiny", path=str(root / "tiny0"), batch_size=8)
    return cfg.model_copy(
        update={"model": model, "judges": [entry.model_copy(update={"options": options})], **overrides}
    )


@pytest.fixture(scope="module")
def run(tiny, tmp_path_factory) -> Path:
    """The audit, then what `unigap run` adds for the paper's Und.: the improved model's candidates and its
    verdicts on the base images (here a second random tiny model), then `unigap analyse`."""
    from unigap.pipeline.analyse import analyse

    out = tmp_path_factory.mktemp("run") / "paper9"
    cfg = paper9_cfg(tiny)
    run_audit(cfg, out)
    improved = load_model(ModelConfig(name="tiny", path=str(tiny["root"] / "tiny1"), batch_size=8))
    prompts = load_prompts(cfg.prompts)
    with RunStore.open(out, create=False) as store:
        audit_into(store, cfg, prompts, improved, NoBar(), "improved", load_judges(cfg.judges))
        judge_stage(
            store,
            "model:improved",
            self_judge_fn(improved, cfg.self_judge),
            "base",
            8,
            NoBar(),
            {p.id for p in prompts},
        )
    analyse(out, n_boot=50)
    return out


# ---- the numbers, recomputed from the stored judgments -------------------------------------------------


def stored(run_dir: Path) -> tuple[dict, list]:
    with RunStore.open(run_dir, create=False) as store:
        return {p.id: p for p in store.prompts()}, store.judgments()


def subtasks_of(prompts: dict, benchmark: str) -> list[str]:
    return list(dict.fromkeys(p.subtask for p in prompts.values() if p.suite == benchmark))


def expected(run_dir: Path, source: str) -> dict:
    """{benchmark: {"gen": [...subtasks, overall], "non": [...], "und": [...]}} from the stored rows."""
    prompts, rows = stored(run_dir)
    verdicts: dict[int, dict] = defaultdict(dict)
    for r in rows:
        if r.source == "base":
            verdicts[r.candidate_id][r.judge] = r
    out = {}
    for bench, scorer in SCORER.items():
        subs = subtasks_of(prompts, bench)
        gen, non, und = [], [], []
        for s in subs:
            scores = [r.score for r in rows if r.source == source and r.judge == scorer and r.subtask == s]
            gen.append(SCALE[scorer] * sum(scores) / len(scores))
            selfs = [r.verdict for r in rows if r.source == source and r.judge == "self" and r.subtask == s]
            non.append(100.0 * selfs.count(0) / len(selfs))
            trio = [
                (v["self"].verdict, v["model:improved"].verdict, v[scorer].verdict)
                for v in verdicts.values()
                if v["self"].subtask == s and "model:improved" in v
            ]
            split = [(i, t) for b, i, t in trio if b != i]
            und.append(50.0 if not split else 100.0 * sum(i == t for i, t in split) / len(split))
        out[bench] = {k: v + [sum(v) / len(v)] for k, v in (("gen", gen), ("non", non), ("und", und))}
    return out


def close(cells: list[str], values: list[float]) -> bool:
    return len(cells) == len(values) and all(abs(float(c) - v) <= 0.005 + 1e-9 for c, v in zip(cells, values))


# ---- routing and storage -------------------------------------------------------------------------------


def test_each_candidate_is_scored_by_its_own_benchmarks_scorer(run):
    prompts, rows = stored(run)
    scored: dict[int, list[str]] = defaultdict(list)
    suite: dict[int, str] = {}
    for r in rows:
        suite[r.candidate_id] = prompts[r.prompt_id].suite
        if r.judge in SCALE:
            scored[r.candidate_id].append(r.judge)
            assert r.status == "ok" and r.score is not None, r
    assert len(suite) == 2 * 9 * 2 * 2  # base + improved, 9 subtasks x 2 prompts x N = 2
    assert {c: scored[c] for c in suite} == {c: [SCORER[suite[c]]] for c in suite}
    with RunStore.open(run, create=False) as store:
        assert store.counts()["judgments"] == {
            "self": 72,
            "model:improved": 36,
            "geneval": 24,
            "t2i-compbench": 24,
            "sciscore": 24,
        }


# ---- the printouts -------------------------------------------------------------------------------------


def rich_tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """(header, rows) of the rich tables of `text` whose first column is "model"."""
    tables, current = [], None
    for line in text.splitlines():
        if line.startswith("┃") and line.split("┃")[1].strip() == "model":
            current = ([c.strip() for c in line.strip("┃").split("┃")], [])
            tables.append(current)
        elif line.startswith("│") and current is not None:
            current[1].append([c.strip() for c in line.strip("│").split("│")])
        elif line.startswith("└"):
            current = None
    return tables


def test_show_prints_gen_and_non_per_benchmark_and_subtask(run):
    from unigap.cli import get_app

    res = CliRunner().invoke(get_app(), ["show", str(run)], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    tables = rich_tables(res.output)
    prompts, _ = stored(run)
    want = expected(run, "base")
    assert len(tables) == 3
    for (header, rows), bench in zip(tables, SCORER):
        assert TITLES[bench] in res.output
        assert header == ["model", "", *subtasks_of(prompts, bench), "Overall"]
        (gen, und, non) = rows
        assert gen[:2] == ["base", "Gen. ↑"] and und[1] == "Und. ↑" and non[1] == "Non. ↓"
        assert close(gen[2:], want[bench]["gen"]), (bench, gen, want[bench]["gen"])
        assert close(non[2:], want[bench]["non"]), (bench, non, want[bench]["non"])
        assert set(und[2:]) == {"—"}  # an audit alone has no win rate


def html_tables(html: str) -> dict[str, list[list[str]]]:
    out = {}
    for bench, body in re.findall(r'<table class="benchmark" id="benchmark-([\w-]+)">(.*?)</table>', html, re.S):
        out[bench] = [re.findall(r"<t[hd]>(.*?)</t[hd]>", tr, re.S) for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)]
    return out


def test_report_prints_base_and_improved_with_the_win_rate(run):
    from unigap.report.render import render_report

    tables = html_tables(render_report(run).read_text())
    assert list(tables) == list(SCORER)
    base, improved = expected(run, "base"), expected(run, "improved")
    for bench, rows in tables.items():
        header, *body = rows
        assert header[2:] == [*subtasks_of(stored(run)[0], bench), "Overall"]
        assert [r[:2] for r in body] == [
            ["base", "Gen. ↑"],
            ["", "Und. ↑"],
            ["", "Non. ↓"],
            ["improved", "Gen. ↑"],
            ["", "Und. ↑"],
            ["", "Non. ↓"],
        ]
        assert close(body[0][2:], base[bench]["gen"]) and close(body[2][2:], base[bench]["non"])
        assert set(body[1][2:]) == {"50.00"}  # the model before self-improvement: 50 by the paper's convention
        assert close(body[3][2:], improved[bench]["gen"]) and close(body[5][2:], improved[bench]["non"])
        assert close(body[4][2:], base[bench]["und"]), (bench, body[4], base[bench]["und"])
    pairs = {(p["a"], p["b"]) for p in json.loads((run / "analysis.json").read_text())["agreement"]["pairs"]}
    assert not pairs & {("geneval", "sciscore"), ("geneval", "t2i-compbench"), ("sciscore", "t2i-compbench")}
    assert ("geneval", "self") in pairs  # scorers that never judged the same candidate are not compared


# ---- resuming, custom prompt files, bad input ----------------------------------------------------------


def custom_file(tiny: dict, extra: list[dict] = ()) -> Path:
    """A custom prompt file mixing the three benchmarks by its `benchmark` column."""
    rows = [
        {"prompt": m["prompt"], "subtask": m["tag"], "band": "easy", "benchmark": "geneval", "geneval": m}
        for m in GENEVAL[:2]
    ]
    rows += [
        {"prompt": T2I["spatial"][0], "subtask": "spatial", "band": "medium", "benchmark": "t2i-compbench"},
        {
            "prompt": "a ball falls",
            "subtask": "physics",
            "band": "hard",
            "benchmark": "science-t2i",
            "explicit_prompt": "a red apple",
            "superficial_prompt": "two dogs",
        },
        *extra,
    ]
    path = tiny["root"] / f"mix{len(extra)}.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return path


def test_a_custom_mix_resumes_after_an_interrupted_scorer(tiny, tmp_path, monkeypatch):
    from unigap.judges.geneval.judge import GenevalJudge
    from unigap.judges.t2i_compbench.judge import T2ICompBenchJudge
    from unigap.prompts.base import SuiteConfig

    cfg = paper9_cfg(tiny, prompts=SuiteConfig(suite="custom", options={"path": str(custom_file(tiny))}))
    real = T2ICompBenchJudge.judge

    def interrupted(self, images, prompts):
        raise KeyboardInterrupt

    monkeypatch.setattr(T2ICompBenchJudge, "judge", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_audit(cfg, tmp_path / "run")
    with RunStore.open(tmp_path / "run", create=False) as store:
        before = {(r.candidate_id, r.judge): (r.score, r.raw) for r in store.judgments()}
    assert {j for _, j in before} == {"self", "geneval"}  # GenEval's stage finished, T2I-CompBench's did not

    def never(self, images, prompts):
        raise AssertionError("a finished scorer judged again")

    monkeypatch.setattr(T2ICompBenchJudge, "judge", real)
    monkeypatch.setattr(GenevalJudge, "judge", never)
    m = run_audit(cfg, tmp_path / "run")
    assert m["counts"]["judgments"] == {"self": 8, "geneval": 4, "t2i-compbench": 2, "sciscore": 2}
    with RunStore.open(tmp_path / "run", create=False) as store:
        after = {(r.candidate_id, r.judge): (r.score, r.raw) for r in store.judgments()}
    assert {k: v for k, v in after.items() if k in before} == before
    assert m["benchmark_of"] == {
        "single_object": "geneval",
        "two_object": "geneval",
        "spatial": "t2i-compbench",
        "physics": "science-t2i",
    }


def test_bad_input_is_refused_before_anything_is_written(tiny, tmp_path):
    from unigap.prompts.base import SuiteConfig

    cfg = paper9_cfg(tiny)
    off = cfg.judges[0].model_copy(update={"options": {**cfg.judges[0].options, "science_t2i": None}})
    with pytest.raises(ConfigError, match="science_t2i is null.*science-t2i/eval/0000"):
        run_audit(cfg.model_copy(update={"judges": [off]}), tmp_path / "a")
    stray = {"prompt": "a red circle", "subtask": "shapes", "id": "stray-1"}
    mixed = paper9_cfg(tiny, prompts=SuiteConfig(suite="custom", options={"path": str(custom_file(tiny, [stray]))}))
    with pytest.raises(DataError, match="no benchmark scorer can score stray-1 \\(suite custom, subtask shapes\\)"):
        run_audit(mixed, tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_unigap_judge_benchmark_scores_a_stored_mixed_run(tiny, tmp_path):
    import numpy as np

    from unigap.cli import get_app
    from unigap.records import Prompt
    from unigap.store import CandidateIn

    with RunStore.open(tmp_path / "run") as store:
        store.add_prompts(
            [
                Prompt("s0", "a ball falls", "physics", "eval", "science-t2i"),
                Prompt("t0", "a dog is looking at a cat", "non_spatial", "eval", "t2i-compbench"),
            ]
        )
        rng = np.random.default_rng(0)
        image = lambda: rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)  # noqa: E731
        store.add_candidates(
            "base", [CandidateIn(p, i, i, np.arange(3), image()) for p in ("s0", "t0") for i in range(2)]
        )
    args = [
        "judge",
        str(tmp_path / "run"),
        "--judge",
        "benchmark",
        "geneval=null",
        "t2i_compbench.device=cpu",
        f"t2i_compbench.clip={tiny['clip']}",
        f"science_t2i.path={tiny['clip']}",
        "science_t2i.device=cpu",
        "--chunk-size",
        "2",
    ]
    res = CliRunner().invoke(get_app(), args)
    assert res.exit_code == 0, res.output
    assert "benchmark: judged 4 candidates, 0 failed" in res.output and "non_spatial: mean score" in res.output
    with RunStore.open(tmp_path / "run", create=False) as store:
        assert {(r.judge, r.subtask) for r in store.judgments()} == {
            ("sciscore", "physics"),
            ("t2i-compbench", "non_spatial"),
        }
        assert store.counts()["judgments"] == {"sciscore": 2, "t2i-compbench": 2}
    again = CliRunner().invoke(get_app(), args)
    assert "judged 0 candidates" in again.output  # resumable: nothing left
