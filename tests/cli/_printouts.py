"""Hand-made inputs of every CLI printout, at their widest: nine subtasks, a CI on every value, 100.0 upper
bounds, three benchmark judges in one suite, long judge and run names."""

from __future__ import annotations

from types import SimpleNamespace

from unigap.world.constants import SUBTASKS

BANDS_OF = dict(SUBTASKS)  # subtask -> band, the world's table
BENCHMARK_OF = {s: ("geneval", "t2i-compbench", "science-t2i")[i // 3] for i, s in enumerate(BANDS_OF)}
LONG_JUDGE = "http:Qwen/Qwen2.5-VL-72B-Instruct"  # an OpenAI-compatible server's judge: its name holds a "/"
SCORER = {"geneval": "geneval", "t2i-compbench": "t2i-compbench", "science-t2i": "sciscore"}


def entry(v: float, scale: float = 1.0) -> dict:
    return {"value": v * scale, "ci": [max(v - 0.08, 0.0) * scale, min(v + 0.2, 1.0) * scale]}


def level(subtasks: list[str], scale: float = 1.0, seed: int = 0) -> dict:
    """A metric over `subtasks` with their bands, benchmarks and overall (values spread over 0.05..0.95)."""
    vals = {s: 0.05 + (0.9 * ((7 * i + 3 * seed) % 10) / 9) for i, s in enumerate(subtasks)}

    def mean(keys: list[str]) -> float:
        return sum(vals[k] for k in keys) / len(keys)

    bands = {b: [s for s in subtasks if BANDS_OF[s] == b] for b in dict.fromkeys(BANDS_OF[s] for s in subtasks)}
    benches = {
        b: [s for s in subtasks if BENCHMARK_OF[s] == b] for b in dict.fromkeys(BENCHMARK_OF[s] for s in subtasks)
    }
    return {
        "subtasks": {s: entry(v, scale) for s, v in vals.items()},
        "bands": {b: entry(mean(k), scale) for b, k in bands.items()},
        "benchmarks": {b: entry(mean(k), scale) for b, k in benches.items()},
        "overall": entry(mean(list(subtasks)), scale),
    }


def judge_metrics(judge: str, subtasks: list[str], seed: int) -> dict:
    m = {
        f"{k}/{judge}": level(subtasks, seed=seed + i)
        for i, k in enumerate(("generation_score", "weak_generation", "self_accuracy", "self_precision", "self_recall"))
    }
    if judge in SCORER.values():
        m[f"gen/{judge}"] = level(subtasks, 100.0, seed)
    return m


def shapeworld_result(seed: int = 0, judge: str = "oracle") -> dict:
    """An audit of ShapeWorld: one external judge over the nine subtasks; no benchmark."""
    metrics = {"non_unification": level(list(BANDS_OF), seed=seed), **judge_metrics(judge, list(BANDS_OF), seed)}
    return {
        "metrics": metrics,
        "bands_of": BANDS_OF,
        "benchmark_of": {},
        "source": "base",
        "counts": {"prompts": 540, "candidates": {"base": 4320}, "judgments": {"self": 4320, judge: 4320}},
        "unparsed": {"self": {"unparsed": 3, "failed": 0}},
    }


def mixed_result(seed: int = 0) -> dict:
    """An audit of the paper's nine subtasks, each benchmark's scorer on its own three."""
    metrics = {"non_unification": level(list(BANDS_OF), seed=seed)}
    for bench, judge in SCORER.items():
        metrics.update(judge_metrics(judge, [s for s, b in BENCHMARK_OF.items() if b == bench], seed))
    return {
        "metrics": metrics,
        "bands_of": BANDS_OF,
        "benchmark_of": BENCHMARK_OF,
        "source": "base",
        "failures": {"geneval": {"failed": 3, "of": 1800, "first_reason": "timeout after 60 s"}},
    }


def win_rates(judges: dict[str, list[str]]) -> dict:
    return {
        j: {
            "win_rate": level(subs, seed=5),
            "kinds": {s: {"fp_corrected": 3, "fn_corrected": 1} for s in subs},
            "kinds_total": {"fp_corrected": 9, "fn_corrected": 3, "new_fp": 3, "new_fn": 6},
            "fp_correction_share_of_wins": 0.75,
            "disagreements": 21,
        }
        for j, subs in judges.items()
    }


def run_results(mixed: bool = False) -> tuple[dict, dict]:
    """(results.json, analysis.json) of a finished `unigap run`, with the understanding benchmarks."""
    make = mixed_result if mixed else shapeworld_result
    results = {"before": make(0), "after": make(1), "understand": understand_rows()}
    judges = (
        {j: [s for s, b in BENCHMARK_OF.items() if SCORER[b] == j] for j in SCORER.values()}
        if mixed
        else {"oracle": list(BANDS_OF)}
    )
    return results, {"win_rate": win_rates(judges), "diagnostics": diagnostics(probabilities=mixed)}


def ratio(v: float) -> dict:
    return {**entry(v), "num": 1, "den": 2}


def diagnostics(probabilities: bool) -> dict:
    no = {"value": None, "ci": None, "note": "not available (no probabilities: parse mode)"}
    bands = {
        b: {
            "n": 240,
            "accepted": 155,
            "acceptance_precision": ratio(0.865),
            "rejection_precision": ratio(0.9),
            "recall": ratio(0.924),
            "auroc": ratio(0.81) if probabilities else no,
        }
        for b in ("easy", "medium", "hard", "overall")
    }
    bands["hard"]["acceptance_precision"] = {"value": None, "ci": None, "note": "n/a (0 accepted)"}
    view = {LONG_JUDGE: {"judge": "self", "probabilities": probabilities, "bands": bands}}
    drops = {
        b: {"auroc": {"value": 0.05} if probabilities else no, "acceptance_precision": {"value": 0.082}} for b in bands
    }
    return {
        "views": {
            v: view
            for v in ("base_judge_on_base_images", "improved_judge_on_base_images", "improved_judge_on_own_images")
        },
        "exploitation": {LONG_JUDGE: drops},
    }


def several_runs() -> dict[str, dict]:
    names = ("tiny", "janus-pro-7b", "runs/2026-12-01/show-o-512-sft", "emu3", "bagel-7b-mot")
    return {name: shapeworld_result(i) for i, name in enumerate(names)}


def eval_result() -> dict:
    row = {"generation_accuracy": 0.5625, "understanding_accuracy": 1.0, "n": 40}
    return {
        "subtasks": {s: {**row, "band": b} for s, b in BANDS_OF.items()},
        "bands": {b: {**row, "n": 120} for b in ("easy", "medium", "hard")},
        "overall": {**row, "n": 360},
    }


def pairs() -> list:
    def pair(a: str, b: str, n: int) -> SimpleNamespace:
        return SimpleNamespace(
            a=a,
            b=b,
            n=n,
            agreement=0.8097,
            kappa=0.566,
            ci=(0.499, 0.626),
            confusion=[[2656, 646], [560, 1177]],
            excluded=12,
        )

    return [pair("model:improved", "oracle", 720), pair(LONG_JUDGE, "self", 5039), pair("oracle", "self", 5039)]


def understand_rows() -> list[dict]:
    return [
        {
            "task": "shapeworld_plain_mc",
            "metric": "exact_match,none",
            "base": 0.6125,
            "improved": 0.725,
            "base_stderr": 0.0166,
            "improved_stderr": 0.0158,
            "delta": 0.1125,
            "base_failed": 0,
            "improved_failed": 2,
        },
        {
            "task": "mmbench_en_dev",
            "metric": "gpt_eval_score,none",
            "base": 61.2,
            "improved": None,
            "base_stderr": None,
            "improved_stderr": None,
            "delta": None,
            "base_failed": 0,
            "improved_failed": None,
        },
    ]


def understand_result() -> dict:
    return {
        "provenance": {"lmms_eval_version": "0.3.5", "backend": "tiny"},
        "scores": {"shapeworld_plain": {"exact_match,none": 0.6125}, "mmbench_en_dev": {"gpt_eval_score,none": 61.2}},
        "stderr": {"shapeworld_plain": {"exact_match,none": 0.0166}},
        "n": {"shapeworld_plain": {"effective": 360}, "mmbench_en_dev": {"effective": 4329}},
        "failures": {"by_task": {"shapeworld_plain": 2}, "count": 2},
    }
