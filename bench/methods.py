"""Offline recipe vs online RL on ShapeWorld (issue 24, item 5): every method on the same audit, 3 seeds.

    python bench/methods.py [--out bench/results/methods] [--seeds 0 1 2] [--methods csft dpo ...]
                            [--existing-only] [--anchored auto|M1,M2]

Methods (a run config plus the overrides in METHODS):
  csft              C-SFT, today's default (`make run`, configs/run_tiny.yaml)
  dpo               C-DPO (configs/run_tiny.yaml with configs/dpo_tiny.yaml's lr)
  grpo_*            configs/run_grpo_tiny.yaml with its reward:
  grpo_self         GRPO, reward = the current model's own P(match) (the paper's signal, online)
  grpo_self_frozen  GRPO, reward = the base model's P(match) (a fixed reward model)
  grpo_oracle       GRPO, reward = the oracle's verdict (an external judge; the upper bound of the signal)
  <m>+kl, <m>+replay  the best two of the five (by mean Δ oracle generation) with the judge-KL anchor and
                    with the understanding-replay anchor (shapeworld_plain, train-split scenes)
Every method of a seed shares that seed's base stages (audit of the train split, curation, audit of the
eval split with the base model): they are run once in OUT/runs/base_s<seed>, copied into the method's run
directory, whose stored config is the method's; `unigap run` then does the rest (improve, the improved
model's eval audit, win rate). Finished runs are kept and measured as they are (the bench resumes).

Measured per run (eval split, oracle as truth): Δ oracle generation and Δ non-unification per band
and overall (points), win rate of the improved judge over the base one (%), the self-judge's recall and
specificity on the base eval images before -> after (judge drift), exploitation (the improved judge's
acceptance precision on base images minus on its own new images), seconds of the improve stage.
Writes OUT/methods.md (mean ± 95 % t-interval over seeds; per seed), OUT/methods.json, OUT/methods.png.
Item 5's rule: which method raises generation >= 5 points, lowers non-unification in every band and keeps
the win rate above 50 % (means over the seeds).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GROUPS = ("easy", "medium", "hard", "overall")
GRPO = "run_grpo_tiny.yaml"  # the tiny GRPO run: 2 passes, 8 prompts x 8 candidates, lr 1e-4, beta 0.01
METHODS = {  # name -> (run config under configs/, overrides)
    "csft": ("run_tiny.yaml", []),
    "dpo": ("run_tiny.yaml", ["improve.method=dpo", "improve.lr=1e-4"]),
    "grpo_self": (GRPO, ["improve.grpo.rewards=[{name: self}]"]),
    "grpo_self_frozen": (GRPO, ["improve.grpo.rewards=[{name: self-frozen}]"]),
    "grpo_oracle": (GRPO, ["improve.grpo.rewards=[{name: oracle}]"]),
}
ANCHORS = {
    "kl": ["improve.anchor.judge_kl.weight=1.0"],
    "replay": ["improve.anchor.replay.set=shapeworld_plain", "improve.anchor.replay.ratio=0.25"],
}
RULE_GEN = 5.0  # points


def _judge_strength():
    """bench/judge_strength.py's helpers (judge_drift, mean_ci, cell): one definition for both benches."""
    import sys

    if "judge_strength" not in sys.modules:
        spec = importlib.util.spec_from_file_location("judge_strength", ROOT / "bench" / "judge_strength.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules["judge_strength"] = mod  # dataclasses look their module up there
        spec.loader.exec_module(mod)
    return sys.modules["judge_strength"]


def method_config(name: str) -> tuple[str, list[str]]:
    base, _, anchor = name.partition("+")
    file, overrides = METHODS[base]
    return file, overrides + (ANCHORS[anchor] if anchor else [])


def run_config(seed: int, overrides: list[str], file: str = "run_tiny.yaml"):
    from unigap.config import load_config
    from unigap.pipeline.run import RunConfig

    return load_config(RunConfig, ROOT / "configs" / file, [f"seed={seed}", "report=false", *overrides])


def base_stages(seed: int, run_dir: Path, log) -> None:
    """audit_train, curate, audit_eval_base of `unigap run` (the stages every method shares)."""
    from unigap.audit.runner import NoBar, audit_into, record_provenance
    from unigap.config import defaults_json
    from unigap.curation.dataset import write_curation
    from unigap.pipeline.run import Stages, audit_cfg, prepare_run
    from unigap.store import RunStore
    from unigap.vocab import SOURCE_BASE

    cfg = run_config(seed, [])
    ready = prepare_run(cfg, run_dir)
    with RunStore.open(run_dir) as store:
        store.init_config(cfg.model_dump(mode="json"), defaults_json(cfg))
        record_provenance(store, cfg.seed, ready.base)
        stage = Stages(store, log)
        stage(
            "audit_train",
            lambda: {
                "failures": audit_into(
                    store, audit_cfg(cfg, cfg.n), ready.train, ready.base, NoBar(), judges=ready.judges
                )
            },
        )
        stage("curate", lambda: write_curation(run_dir, run_dir / "data", cfg.curate)["totals"])
        stage(
            "audit_eval_base",
            lambda: {
                "failures": audit_into(
                    store, audit_cfg(cfg, cfg.eval_n), ready.evals, ready.base, NoBar(), SOURCE_BASE, ready.judges
                )
            },
        )


def run_method(name: str, seed: int, out: Path, log) -> dict:
    """The method's `unigap run` on a copy of the seed's base stages (results.json; resumes)."""
    from unigap.pipeline.run import run_loop
    from unigap.store import RunStore

    run_dir = out / "runs" / f"{name}_s{seed}"
    if (run_dir / "results.json").exists():
        return json.loads((run_dir / "results.json").read_text())
    base = out / "runs" / f"base_s{seed}"
    if not (base / "data" / "manifest.json").exists() or not (base / "base.done").exists():
        base_stages(seed, base, log)
        (base / "base.done").write_text("ok\n")
    file, overrides = method_config(name)
    cfg = run_config(seed, overrides, file)
    if not run_dir.exists():
        tmp = run_dir.with_name(run_dir.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(base, tmp)
        with RunStore.open(tmp, create=False) as store:  # the method's config: the shared stages used the same settings
            store.set_meta("config", cfg.model_dump(mode="json"))
        tmp.rename(run_dir)
    t0 = time.time()
    results = run_loop(cfg, run_dir, log=lambda m: None)
    results["wall_seconds"] = round(time.time() - t0, 1)
    (run_dir / "results.json").write_text(json.dumps(results, indent=2))
    return results


def measure(run_dir: Path, results: dict) -> dict:
    from unigap.analysis.diagnostics import run_diagnostics
    from unigap.analysis.winrate import win_rate
    from unigap.store import RunStore

    js = _judge_strength()
    with RunStore.open(run_dir, create=False) as store:
        eval_ids = {p.id for p in store.prompts(split="eval")}
        rows = [r for r in store.judgments(source="base") if r.prompt_id in eval_ids]
        wr = win_rate(rows, "self", "model:improved", "oracle", n_boot=200)
        diag = run_diagnostics(store, eval_ids, n_boot=200)
        improve_info = (store.stage("improve") or {}).get("info") or {}
    expl = (diag["exploitation"].get("oracle") or {}).get("overall", {}).get("acceptance_precision", {})
    history = json.loads((run_dir / "improve" / "train.json").read_text())
    out = {
        "win_rate": 100 * wr["win_rate"]["overall"]["value"],
        "drift": js.judge_drift(rows),
        "exploitation": expl.get("value"),
        "exploitation_train": history.get("exploitation"),
        "improve_seconds": improve_info.get("seconds"),
        "epochs": history.get("epochs", []),
        "steps": {
            "reward": [round(s["reward"], 4) for s in history.get("steps", [])],
            "oracle": [round(s.get("monitor/oracle", float("nan")), 4) for s in history.get("steps", [])],
        },
    }
    for key, name in (("generation_score/oracle", "gen"), ("non_unification", "nonu")):
        for g in GROUPS:
            before, after = js._value(results["before"], key, g), js._value(results["after"], key, g)
            out.setdefault(name, {})[g] = {"before": before, "after": after, "delta": after - before}
    return out


def summarise(runs: list[dict]) -> dict:
    mc = _judge_strength().mean_ci
    s = {"n_seeds": len(runs)}
    for g in GROUPS:
        s[f"dgen/{g}"] = mc([r["gen"][g]["delta"] for r in runs])
        s[f"dnonu/{g}"] = mc([r["nonu"][g]["delta"] for r in runs])
    s["win_rate"] = mc([r["win_rate"] for r in runs])
    for side in ("base", "improved"):
        for m in ("recall", "specificity"):
            s[f"drift/{side}/{m}"] = mc([r["drift"][side][m] for r in runs])
    s["exploitation"] = mc([r["exploitation"] for r in runs])
    s["seconds"] = mc([r["improve_seconds"] for r in runs])
    s["rule"] = rule(s)
    return s


def rule(s: dict) -> dict:
    """Item 5: generation +5 points, non-unification down in every band, win rate above 50 % (seed means)."""
    checks = {
        "gen": s["dgen/overall"][0] >= RULE_GEN,
        "nonu_every_band": all(s[f"dnonu/{g}"][0] < 0 for g in GROUPS[:3]),
        "win_rate": s["win_rate"][0] > 50.0,
    }
    return {**checks, "all": all(checks.values())}


def best_two(summary: dict) -> list[str]:
    plain = [m for m in METHODS if m in summary]
    return sorted(plain, key=lambda m: -summary[m]["dgen/overall"][0])[:2]


def markdown(summary: dict, per_run: dict) -> str:
    cell = _judge_strength().cell
    lines = [
        "Methods on ShapeWorld (the shipped tiny model; csft and dpo: configs/run_tiny.yaml, grpo: "
        "configs/run_grpo_tiny.yaml with its reward; +kl / +replay: the anchors; eval split, oracle as truth); "
        "mean ± 95 % t-interval over seeds.",
        "",
        "| method | seeds | Δ generation overall | Δ non-unification easy / medium / hard / overall | "
        "win rate % | "
        "judge recall before → after | judge specificity before → after | exploitation | improve s | rule |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m, s in summary.items():
        nonu = " / ".join(cell(s[f"dnonu/{g}"]) for g in GROUPS)
        r = s["rule"]
        failed = [k for k in ("gen", "nonu_every_band", "win_rate") if not r[k]]
        verdict = "**yes**" if r["all"] else "no: " + ", ".join(failed)
        lines.append(
            f"| {m} | {s['n_seeds']} | {cell(s['dgen/overall'])} | {nonu} | {cell(s['win_rate'])} | "
            f"{cell(s['drift/base/recall'], 2)} → {cell(s['drift/improved/recall'], 2)} | "
            f"{cell(s['drift/base/specificity'], 2)} → {cell(s['drift/improved/specificity'], 2)} | "
            f"{cell(s['exploitation'], 2)} | {cell(s['seconds'], 0)} | {verdict} |"
        )
    lines += [
        "",
        "Δ oracle generation per band (points):",
        "",
        "| method | easy | medium | hard |",
        "|---|---|---|---|",
    ]
    for m, s in summary.items():
        lines.append(f"| {m} | " + " | ".join(cell(s[f"dgen/{g}"]) for g in GROUPS[:3]) + " |")
    lines += [
        "",
        "Per seed (Δ generation / Δ non-unification overall / win rate):",
        "",
        "| method | " + " | ".join(f"seed {i}" for i in range(max(len(v) for v in per_run.values()))) + " |",
        "|---|" + "---|" * max(len(v) for v in per_run.values()),
    ]
    for m, runs in per_run.items():
        cells = [
            f"{r['gen']['overall']['delta']:+.1f} / {r['nonu']['overall']['delta']:+.1f} / {r['win_rate']:.1f}"
            for r in runs
        ]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "How close each came (means over the seeds; in brackets: seeds that meet the criterion on their own):",
        "",
        "| method | Δ generation − 5 | worst band's Δ non-unification (must be < 0) | win rate − 50 |",
        "|---|---|---|---|",
    ]
    for m, s in summary.items():
        runs = per_run[m]
        worst = max(s[f"dnonu/{g}"][0] for g in GROUPS[:3])
        worst_band = max(GROUPS[:3], key=lambda g: s[f"dnonu/{g}"][0])
        k_gen = sum(r["gen"]["overall"]["delta"] >= RULE_GEN for r in runs)
        k_non = sum(all(r["nonu"][g]["delta"] < 0 for g in GROUPS[:3]) for r in runs)
        k_win = sum(r["win_rate"] > 50 for r in runs)
        lines.append(
            f"| {m} | {s['dgen/overall'][0] - RULE_GEN:+.1f} [{k_gen}/{len(runs)}] | {worst:+.1f} ({worst_band}) "
            f"[{k_non}/{len(runs)}] | {s['win_rate'][0] - 50:+.1f} [{k_win}/{len(runs)}] |"
        )
    lines += [
        "",
        "Rule (issue 24, item 5): Δ generation >= +5 points, Δ non-unification < 0 in every band, win rate "
        "> 50 % (means over the seeds). 'exploitation' = the improved judge's acceptance precision on the base "
        "eval images minus on its own new eval images (> 0: the generator moved into its blind spots).",
    ]
    return "\n".join(lines) + "\n"


def smooth(y: np.ndarray, k: int = 9) -> np.ndarray:
    """Moving average over k steps (the edges over what exists)."""
    kernel = np.ones(k)
    return np.convolve(y, kernel, "same") / np.convolve(np.ones_like(y), kernel, "same")


def plot(summary: dict, per_run: dict, path: Path) -> None:
    """Top: the three criteria per method. Bottom: each GRPO method's reward and the oracle's verdict on the
    same samples per step (mean over seeds, moving average of 9 steps): where the two part, the reward is hacked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    grpo = [n for n in names if any(r["steps"]["reward"] for r in per_run[n])]
    fig = plt.figure(figsize=(15, 8.5))
    for i, (key, label, ref) in enumerate(
        (
            ("dgen/overall", "Δ oracle generation (points)", RULE_GEN),
            ("dnonu/overall", "Δ non-unification (points)", 0.0),
            ("win_rate", "win rate (%)", 50.0),
        )
    ):
        ax = fig.add_subplot(2, 3, i + 1)
        m = [summary[n][key][0] for n in names]
        e = [0 if summary[n][key][1] != summary[n][key][1] else summary[n][key][1] for n in names]
        ax.bar(range(len(names)), m, yerr=e, capsize=3, color="#4c72b0")
        ax.axhline(ref, color="gray", ls="--", lw=0.8)
        ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
        ax.set_title(label, fontsize=9)
    ax = fig.add_subplot(2, 1, 2)
    for n in grpo:
        steps = [r["steps"] for r in per_run[n] if r["steps"]["reward"]]
        k = min(len(s["reward"]) for s in steps)
        x = np.arange(1, k + 1)
        line = ax.plot(x, smooth(np.mean([s["reward"][:k] for s in steps], 0)), label=f"{n}: reward")[0]
        ax.plot(
            x,
            smooth(np.nanmean([s["oracle"][:k] for s in steps], 0)),
            ls="--",
            color=line.get_color(),
            label=f"{n}: oracle's verdict, same samples",
        )
    ax.set_xlabel("grpo step (64 samples each; mean over seeds, 9-step moving average)", fontsize=8)
    ax.set_title("GRPO: the reward and the oracle's verdict on the same samples", fontsize=9)
    ax.legend(fontsize=7, frameon=False, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "methods")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    ap.add_argument("--anchored", default="auto", help="'auto' (the best two plain methods), 'none', or M1,M2")
    ap.add_argument("--existing-only", action="store_true", help="measure only the runs that have finished")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    def log(m):
        print(m, flush=True)

    per_run: dict[str, list[dict]] = {}

    def do(name: str) -> None:
        for seed in args.seeds:
            run_dir = args.out / "runs" / f"{name}_s{seed}"
            if args.existing_only and not (run_dir / "results.json").exists():
                continue
            t0 = time.time()
            results = run_method(name, seed, args.out, log)
            per_run.setdefault(name, []).append(measure(run_dir, results))
            r = per_run[name][-1]
            log(
                f"{name} seed {seed} ({time.time() - t0:.0f} s): Δgen {r['gen']['overall']['delta']:+.1f} "
                f"Δnonu {r['nonu']['overall']['delta']:+.1f} win {r['win_rate']:.1f}"
            )
        write(args.out, per_run)

    for name in args.methods:
        do(name)
    if args.anchored != "none":
        summary = {m: summarise(r) for m, r in per_run.items()}
        top = best_two(summary) if args.anchored == "auto" else args.anchored.split(",")
        for m in top:
            for a in ANCHORS:
                do(f"{m}+{a}")
    log((args.out / "methods.md").read_text())


def write(out: Path, per_run: dict) -> None:
    summary = {m: summarise(r) for m, r in per_run.items() if r}
    (out / "methods.json").write_text(json.dumps({"summary": summary, "per_run": per_run}, indent=1))
    (out / "methods.md").write_text(markdown(summary, per_run))
    plot(summary, per_run, out / "methods.png")


if __name__ == "__main__":
    main()
