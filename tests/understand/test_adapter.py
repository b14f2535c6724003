"""The `unigap` lmms-eval model: request plumbing, batching, lmms-eval's own metrics, bad input."""

from __future__ import annotations

import json

import pytest

from tests.understand.conftest import COLORS
from unigap.errors import UnigapError

RED, GREEN, BLUE = (tuple(c) for c in COLORS.values())


def run_toy(model, tasks, toy_tasks, tmp_path, batch_size=4, limit=None):
    from unigap.models.base import ModelConfig
    from unigap.understand.run import evaluate_backend

    return evaluate_backend(
        ModelConfig(name=model.name),
        tasks,
        limit,
        tmp_path / "out",
        model=model,
        options={"include_defaults": False, "include": [toy_tasks], "batch_size": batch_size},
    )


def test_generate_until_batches_and_scores_with_lmms_evals_exact_match(lmms, toy_tasks, tmp_path, scripted):
    # "yes." only matches "Yes" with lmms-eval's ignore_case/ignore_punctuation (task YAML), and only
    # once the adapter cut the answer at the task's `until` string.
    backend = scripted(
        {"Is the image red?": "yes. ASSISTANT: and more", "Is the image blue?": "Yes", "Is the image green?": "no"}
    )
    result = run_toy(backend, ["toy_yesno"], toy_tasks, tmp_path)
    assert result["scores"]["toy_yesno"]["exact_match"] == pytest.approx(0.7)  # red 4/4, blue 0/3, green 3/3
    assert result["n"]["toy_yesno"] == {"original": 10, "effective": 10}
    assert result["task_versions"]["toy_yesno"] == 2.5
    sizes = sorted((c["shape"][1], c["shape"][0]) for c in backend.calls)
    assert sizes == [(24, 3), (32, 3), (32, 4)]  # grouped by image size, batch_size 4
    assert {c["max_new_tokens"] for c in backend.calls} == {5}  # from the task's generation_kwargs
    asked = sorted(q for c in backend.calls for q in c["questions"])
    assert asked == sorted(["Is the image red?"] * 4 + ["Is the image blue?"] * 3 + ["Is the image green?"] * 3)
    assert result["failures"]["count"] == 0
    saved = json.loads((tmp_path / "out" / "understand.json").read_text())
    assert saved["scores"] == result["scores"]
    prov = saved["provenance"]
    assert prov["lmms_eval_version"] == "0.7.3" and prov["seed"] == 0 and prov["limit"] is None
    assert "results" in json.loads((tmp_path / "out" / "lmms_eval_results.json").read_text())


def test_multiple_choice_uses_loglikelihood_and_lmms_evals_acc(lmms, toy_tasks, tmp_path, scripted):
    # best choice per image: red -> red (right), green -> blue (wrong), blue -> blue (right): acc 7/10.
    # The greedy answer is always "red": lmms-eval's exact_match (is_greedy of the gold) is 4/10.
    backend = scripted({"What color is the image?": "red"}, best={RED: "red", GREEN: "blue", BLUE: "blue"})
    result = run_toy(backend, ["toy_mc"], toy_tasks, tmp_path, batch_size=5)
    assert result["scores"]["toy_mc"]["acc"] == pytest.approx(0.7)
    assert result["scores"]["toy_mc"]["exact_match"] == pytest.approx(0.4)
    scored = [c for c in backend.calls if c["kind"] == "logprobs"]
    assert sum(c["shape"][0] for c in scored) == 30  # 10 documents x 3 choices
    assert max(c["shape"][0] for c in scored) <= 5
    assert {a for c in scored for a in c["answers"]} == {"red", "green", "blue"}  # delimiter " " left to the backend
    greedy = [c for c in backend.calls if c["kind"] == "answer"]
    assert sum(c["shape"][0] for c in greedy) == 10  # one greedy answer per document, not per choice


def test_one_failing_item_is_counted_and_the_rest_scored(lmms, toy_tasks, tmp_path, scripted):
    backend = scripted(
        {"Is the image red?": "Yes", "Is the image blue?": "No", "Is the image green?": "No"}, fail_on="blue"
    )
    result = run_toy(backend, ["toy_yesno"], toy_tasks, tmp_path)
    assert result["failures"]["count"] == 3 and result["failures"]["by_task"] == {"toy_yesno": 3}
    assert all("scripted failure" in f["error"] for f in result["failures"]["items"])
    assert result["scores"]["toy_yesno"]["exact_match"] == pytest.approx(0.7)  # the 3 failed count as wrong


def test_unknown_task_lists_close_matches(lmms, toy_tasks, tmp_path, scripted):
    with pytest.raises(UnigapError, match="Tasks not found: toy_yesn") as err:
        run_toy(scripted(), ["toy_yesn"], toy_tasks, tmp_path)
    assert "close matches toy_yesno" in str(err.value)


def test_backend_without_understanding_path_is_refused(lmms):
    from unigap.understand.adapter import UnigapLMM

    class GenerateOnly:
        name = "genonly"

    with pytest.raises(UnigapError, match="'genonly' backend has no understanding path"):
        UnigapLMM(model=GenerateOnly())


def test_loglikelihood_without_answer_logprobs_names_the_backend(lmms, toy_tasks, tmp_path, scripted):
    class AnswerOnly:
        name = "answeronly"
        answer = scripted().answer

    with pytest.raises(UnigapError, match="'answeronly' backend cannot score continuations"):
        run_toy(AnswerOnly(), ["toy_mc"], toy_tasks, tmp_path)


def test_registered_for_the_lmms_eval_cli(lmms, tiny_ckpt_dir):
    from lmms_eval.models import get_model

    from unigap.understand.adapter import UnigapLMM

    cls = get_model("unigap")  # through the lmms_eval.models entry point (pyproject.toml)
    assert cls is UnigapLMM
    lm = cls.create_from_arg_string(
        f"backend=tiny,path={tiny_ckpt_dir},batch_size=3", {"batch_size": 1, "device": None}
    )
    assert lm.batch_size == 3 and lm.backend == "tiny"  # model_args win over the CLI's default --batch_size


def test_tiny_random_backend_end_to_end(lmms, toy_tasks, tmp_path, tiny_ckpt_dir):
    from unigap.models.base import ModelConfig
    from unigap.understand.run import evaluate_backend

    cfg = ModelConfig(name="tiny", path=str(tiny_ckpt_dir), batch_size=4)
    result = evaluate_backend(
        cfg, ["toy_yesno", "toy_mc"], 6, tmp_path / "o", options={"include_defaults": False, "include": [toy_tasks]}
    )
    assert result["n"]["toy_yesno"]["effective"] == 6 and result["n"]["toy_mc"]["effective"] == 6
    assert 0.0 <= result["scores"]["toy_yesno"]["exact_match"] <= 1.0
    assert 0.0 <= result["scores"]["toy_mc"]["acc"] <= 1.0
    assert result["failures"]["count"] == 0  # 24 px images are resized to the tiny codec's 32 px
    assert result["backend_calls"]["generate_until"] >= 2 and result["backend_calls"]["loglikelihood"] >= 1
    assert result["provenance"]["limit"] == 6 and result["provenance"]["fingerprint"]["backend"] == "tiny"


def test_a_rerun_replays_the_journaled_batches_and_computes_only_the_rest(lmms, toy_tasks, tmp_path, scripted):
    answers, best = {"What color is the image?": "red"}, {RED: "red", GREEN: "blue", BLUE: "blue"}
    first = scripted(answers, best=best)
    straight = run_toy(first, ["toy_mc"], toy_tasks, tmp_path, batch_size=5)
    journal = tmp_path / "out" / "responses.jsonl"
    lines = journal.read_text().splitlines()
    assert len(lines) == 1 + len(first.calls)  # the model's identity, then one line per backend batch
    # as a kill leaves it: the first three batches whole, the fourth cut mid-line
    journal.write_text("\n".join(lines[:4]) + "\n" + lines[4][: len(lines[4]) // 2])
    (tmp_path / "out" / "understand.json").unlink()
    second = scripted(answers, best=best)
    resumed = run_toy(second, ["toy_mc"], toy_tasks, tmp_path, batch_size=5)
    assert len(second.calls) == len(first.calls) - 3  # the three whole batches replayed, the cut one rerun
    assert second.calls == first.calls[3:]  # the same batches as the uninterrupted run
    drop = ("wall_s", "provenance")
    assert {k: v for k, v in resumed.items() if k not in drop} == {k: v for k, v in straight.items() if k not in drop}
    assert len(journal.read_text().splitlines()) == len(lines)  # the cut line truncated, nothing doubled
    third = scripted(fail_on="What")  # everything journaled: no backend call at all
    assert run_toy(third, ["toy_mc"], toy_tasks, tmp_path, batch_size=5)["scores"] == straight["scores"]
    assert third.calls == []


def test_a_batch_with_a_failed_item_is_not_journaled(lmms, toy_tasks, tmp_path, scripted):
    backend = scripted({"Is the image red?": "Yes"}, fail_on="blue")
    result = run_toy(backend, ["toy_yesno"], toy_tasks, tmp_path)
    assert result["failures"]["count"] == 3
    again = scripted({"Is the image red?": "Yes"}, fail_on="blue")
    (tmp_path / "out" / "understand.json").unlink()
    rerun = run_toy(again, ["toy_yesno"], toy_tasks, tmp_path)
    assert rerun["failures"] == result["failures"] and rerun["scores"] == result["scores"]
    # the one batch without a blue item is replayed; the failing batches (and their item-by-item retries) rerun
    whole = [c for c in backend.calls if c["shape"][0] > 1 and not any("blue" in q for q in c["questions"])]
    assert len(whole) == 1 and again.calls == [c for c in backend.calls if c is not whole[0]]
