"""`{name: benchmark}`: each prompt goes to its own benchmark's scorer (routing, validation, options,
the judge columns it writes); the paper9 configs use it. No model is loaded here (the scorers load
on first use); the audit end to end is tests/judges/test_benchmark_audit.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from unigap.audit.runner import AuditConfig, check_selector, load_judges
from unigap.config import load_config
from unigap.errors import ConfigError, DataError
from unigap.judges.base import JudgeConfig, judge_columns, load_judge, routes
from unigap.records import Judgment, Prompt

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
GENEVAL = {"tag": "single_object", "include": [{"class": "dog", "count": 1}], "prompt": "a photo of a dog"}


def mixed() -> list[Prompt]:
    """paper9-style prompts (suite = the benchmark) and custom rows that name their benchmark."""
    return [
        Prompt(
            "geneval/00000",
            "a photo of a dog",
            "single_object",
            "eval",
            "geneval",
            metadata={"index": 0, "geneval": GENEVAL},
        ),
        Prompt("t2i-compbench/texture_val/0001", "a plastic toy", "texture", "eval", "t2i-compbench"),
        Prompt("science-t2i/eval/0000", "ice in the sun", "physics", "eval", "science-t2i"),
        Prompt(
            "custom/mix/00001", "a glass bottle", "spatial", "eval", "custom", metadata={"benchmark": "t2i-compbench"}
        ),
        Prompt(
            "custom/mix/00002",
            "a dog",
            "two_object",
            "eval",
            "custom",
            metadata={"benchmark": "geneval", "geneval": {**GENEVAL, "tag": "two_object"}},
        ),
    ]


def benchmark(**options):
    return load_judge(JudgeConfig(name="benchmark", options=options))


def test_routes_each_prompt_to_its_benchmarks_scorer_column():
    judge = benchmark()
    assert judge_columns(judge) == ["geneval", "t2i-compbench", "sciscore"]
    got = {r.column: ([p.id for p in r.prompts], r.judge.name) for r in routes(judge, mixed())}
    assert got == {
        "geneval": (["geneval/00000", "custom/mix/00002"], "geneval"),
        "t2i-compbench": (["t2i-compbench/texture_val/0001", "custom/mix/00001"], "t2i-compbench"),
        "sciscore": (["science-t2i/eval/0000"], "sciscore"),
    }
    judge.check_prompts(mixed())  # valid: nothing raised
    plain = load_judge(JudgeConfig(name="sciscore"))
    assert [(r.column, len(r.prompts)) for r in routes(plain, mixed())] == [("sciscore", 5)]  # a plain judge: one route


def test_a_prompt_no_scorer_can_score_is_an_error_naming_it():
    stray = Prompt("custom/mix/00007", "a red circle", "shapes", "eval", "custom")
    with pytest.raises(DataError, match=r"no benchmark scorer can score custom/mix/00007 \(suite custom, subtask sha"):
        benchmark().check_prompts([*mixed(), stray])
    with pytest.raises(ConfigError, match=r"science_t2i is null.*Science-T2I prompt\(s\) science-t2i/eval/0000"):
        benchmark(science_t2i=None).check_prompts(mixed())
    bad_name = Prompt("custom/mix/00009", "x", "y", "eval", "custom", metadata={"benchmark": "GenEval"})
    with pytest.raises(DataError, match="custom/mix/00009: unknown benchmark 'GenEval'"):
        benchmark().check_prompts([bad_name])


def test_checks_each_scorers_share_and_one_benchmark_per_subtask():
    broken = Prompt(
        "custom/mix/00003",
        "a unicorn",
        "single_object",
        "eval",
        "custom",
        metadata={"benchmark": "geneval", "geneval": {**GENEVAL, "include": [{"class": "unicorn", "count": 1}]}},
    )
    with pytest.raises(DataError, match="unicorn"):  # GenEval's own metadata check on its share
        benchmark().check_prompts([broken])
    spans = Prompt("custom/mix/00004", "a dog", "physics", "eval", "custom", metadata={"benchmark": "t2i-compbench"})
    with pytest.raises(DataError, match="subtask 'physics' has prompts of two benchmarks"):
        benchmark().check_prompts([*mixed(), spans])
    odd = Prompt("custom/mix/00005", "a dog", "bogus", "eval", "custom", metadata={"benchmark": "t2i-compbench"})
    with pytest.raises(Exception, match="unknown categories bogus"):  # T2I-CompBench's own category check
        benchmark().check_prompts([odd])


def test_options_are_typed_per_benchmark():
    with pytest.raises(ConfigError, match="options.t2i_compbench.nope: unknown option"):
        benchmark(t2i_compbench={"nope": 1})
    with pytest.raises(ConfigError, match="options.science_t2i.rule"):
        benchmark(science_t2i={"rule": "vibes"})
    with pytest.raises(ConfigError, match="options.sciscore: unknown option"):
        benchmark(sciscore={})  # keys are the benchmarks (as paper9's options), not the scorers
    with pytest.raises(
        DataError, match="options.t2i_compbench: .*complex_spatial_file: nowhere/complex_val_spatial.txt: no such file"
    ):
        benchmark(t2i_compbench={"complex_spatial_file": "nowhere/complex_val_spatial.txt"})
    judge = benchmark(geneval=None, t2i_compbench={"np_num": 3, "device": "cpu"})
    assert judge_columns(judge) == ["t2i-compbench", "sciscore"]
    assert judge.scorers["t2i-compbench"].np_num == 3


def test_judge_dispatches_by_benchmark_and_keeps_the_order():
    judge, calls = benchmark(), []

    class Fake:
        def __init__(self, name):
            self.name = name

        def judge(self, images, prompts):
            calls.append((self.name, images[:, 0, 0, 0].tolist(), [p.id for p in prompts]))
            return [
                Judgment(1, None, f"{self.name}:{p.id}", score=float(images[i, 0, 0, 0])) for i, p in enumerate(prompts)
            ]

    judge.scorers = {b: Fake(s.name) for b, s in judge.scorers.items()}
    images = torch.arange(5, dtype=torch.uint8).view(5, 1, 1, 1).expand(5, 2, 2, 3).contiguous()
    out = judge.judge(images, mixed())
    assert [j.raw.split(":")[0] for j in out] == ["geneval", "t2i-compbench", "sciscore", "t2i-compbench", "geneval"]
    assert [j.score for j in out] == [0.0, 1.0, 2.0, 3.0, 4.0]  # each image reached the scorer of its prompt
    assert sorted(c[0] for c in calls) == ["geneval", "sciscore", "t2i-compbench"]  # one call per scorer


def test_a_second_judge_writing_a_routed_column_is_refused_and_selectors_see_the_columns():
    with pytest.raises(ConfigError, match="judges\\[1\\]: a second judge writing 'geneval'"):
        load_judges([JudgeConfig(name="benchmark"), JudgeConfig(name="geneval")])
    judges = load_judges([JudgeConfig(name="benchmark")])
    check_selector("t2i-compbench", judges, "curate.selector")
    with pytest.raises(ConfigError, match="valid: self, geneval, t2i-compbench, sciscore"):
        check_selector("benchmark", judges, "curate.selector")


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("audit_paper9_*.yaml")), ids=lambda p: p.name)
def test_paper9_configs_route_every_subtask_to_its_scorer(path, tmp_path):
    cfg = load_config(AuditConfig, path)
    assert [j.name for j in cfg.judges] == ["benchmark"]
    options = cfg.judges[0].options
    assert set(options) == {"geneval", "t2i_compbench", "science_t2i"}
    assert options["t2i_compbench"]["complex_spatial_file"].endswith("examples/dataset/complex_val_spatial.txt")
    for key in ("complex_spatial_file", "complex_action_file"):  # read on construction: stand-ins here
        (tmp_path / key).write_text("a red hat on a rack.\n")
        options["t2i_compbench"][key] = str(tmp_path / key)
    (judge,) = load_judges(cfg.judges).values()
    prompts = [
        Prompt(
            f"{suite}/{sub}",
            "a dog",
            sub,
            "eval",
            suite,
            metadata={"index": 0, "geneval": {**GENEVAL, "tag": sub}} if suite == "geneval" else {},
        )
        for suite, subs in (
            ("geneval", ("single_object", "two_object", "color_attr")),
            ("t2i-compbench", ("texture", "spatial", "complex")),
            ("science-t2i", ("physics", "chemistry", "biology")),
        )
        for sub in subs
    ]
    judge.check_prompts(prompts)
    assert {r.column: [p.subtask for p in r.prompts] for r in routes(judge, prompts)} == {
        "geneval": ["single_object", "two_object", "color_attr"],
        "t2i-compbench": ["texture", "spatial", "complex"],
        "sciscore": ["physics", "chemistry", "biology"],
    }
