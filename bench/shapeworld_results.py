"""The self-improvement results table on ShapeWorld: base, SFT, C-SFT, DPO, C-DPO, oracle-selected SFT.

    flock /tmp/unigap-bigmem.lock python bench/shapeworld_results.py [--seeds 0 1 2] [--out bench/results]

Every (seed, variant) is one `unigap run` (`unigap.pipeline.run.run_loop`) with a RunConfig
variant: audit the train prompts with the shipped model (N candidates each), curate with the
model's own verdicts (oracle-SFT: with the oracle's), train the variant (configs/sft_tiny.yaml or
configs/dpo_tiny.yaml, curriculum on or off), audit the eval prompts with the base and the
improved model. The base row is the runs' "before" (the same in every variant of a seed: the
candidates' seeds depend only on the run seed and the prompt). Writes OUT/results.md (mean and
95 % t-interval over seeds, per band and overall, for the oracle generation score and
non-unification) and OUT/results.json. Each run directory (OUT/seed<S>/<variant>) is kept and
resumable: rerunning continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from unigap.analysis.table import columns
from unigap.config import load_config
from unigap.curation.curate import CurateConfig
from unigap.pipeline.run import RunConfig, run_loop
from unigap.prompts.base import SuiteConfig
from unigap.training.improve import ImproveConfig
from unigap.vocab import BANDS, OVERALL

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {  # name -> (improve config file, curriculum mode, curation selector)
    "SFT": ("sft_tiny.yaml", "none", "self"),
    "C-SFT": ("sft_tiny.yaml", "fixed", "self"),
    "DPO": ("dpo_tiny.yaml", "none", "self"),
    "C-DPO": ("dpo_tiny.yaml", "fixed", "self"),
    "oracle-SFT": ("sft_tiny.yaml", "none", "oracle"),
}
KEYS = ("generation_score/oracle", "non_unification")  # the table's two metrics (labels: analysis.table)
GROUPS = (*BANDS, OVERALL)
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571}


def run_config(name: str, seed: int, args: argparse.Namespace) -> RunConfig:
    """`unigap run` with the variant's improve config, curriculum mode and curation selector."""
    file, mode, selector = VARIANTS[name]
    improve = load_config(ImproveConfig, ROOT / "configs" / file, [f"curriculum.mode={mode}"])
    return RunConfig(
        seed=seed,
        n=args.n,
        eval_n=args.eval_n,
        n_boot=200,
        report=False,
        train_prompts=SuiteConfig(split="train", per_subtask=args.train_per_subtask),
        eval_prompts=SuiteConfig(split="eval", per_subtask=args.eval_per_subtask),
        curate=CurateConfig(selector=selector, rule="all_accepted"),
        improve=improve,
    )


def one_seed(seed: int, out: Path, args: argparse.Namespace) -> dict:
    """{"base": metrics, variant: metrics, ...} on the eval prompts of one seed."""
    result: dict = {}
    for name in VARIANTS:

        def log(m, name=name):
            print(f"[seed {seed} {name}] {m}", flush=True)

        runs = run_loop(run_config(name, seed, args), out / f"seed{seed}" / name, log=log)
        before = runs["before"]["metrics"]
        if "base" in result and _overall(result["base"]) != _overall(before):
            print(f"[seed {seed}] warning: {name}'s base metrics differ from the first variant's", flush=True)
        result.setdefault("base", before)
        result[name] = runs["after"]["metrics"]
        log(f"stages (s): {runs['stage_seconds']}")
    return result


def _overall(metrics: dict) -> list:
    return [metrics[k]["overall"].get("value") for k in KEYS]


def value(metrics: dict, key: str, group: str) -> float:
    m = metrics[key]
    e = m["overall"] if group == OVERALL else m["bands"].get(group, {})
    return float("nan") if e.get("value") is None else 100 * e["value"]


def summary(per_seed: list[dict]) -> dict:
    out: dict = {}
    for variant in per_seed[0]:
        for key in KEYS:
            for group in GROUPS:
                vals = np.array([value(r[variant], key, group) for r in per_seed])
                half = T95.get(len(vals) - 1, 1.96) * vals.std(ddof=1) / math.sqrt(len(vals)) if len(vals) > 1 else 0.0
                out.setdefault(variant, {}).setdefault(key, {})[group] = [float(vals.mean()), float(half)]
    return out


def markdown(s: dict, seeds: list[int], labels: dict[str, str]) -> str:
    lines = [f"Eval split, mean ± 95 % t-interval over seeds {seeds} (%).", ""]
    for key in KEYS:
        lines += [
            f"**{labels.get(key, key)}**",
            "",
            "| model | " + " | ".join(GROUPS) + " |",
            "|---" * (len(GROUPS) + 1) + "|",
        ]
        for variant, metrics in s.items():
            cells = [f"{m:.1f} ± {h:.1f}" for m, h in (metrics[key][g] for g in GROUPS)]
            lines.append(f"| {variant} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--train-per-subtask", type=int, default=40)
    ap.add_argument("--eval-per-subtask", type=int, default=20)
    ap.add_argument("--eval-n", type=int, default=4)
    args = ap.parse_args()
    t0 = time.time()
    per_seed = [one_seed(s, args.out, args) for s in args.seeds]
    s = summary(per_seed)
    labels = {c.key: c.label for c in columns(per_seed[0]["base"])}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps({"summary": s, "per_seed": per_seed}, indent=1))
    md = markdown(s, args.seeds, labels)
    (args.out / "results.md").write_text(md + f"\n({time.time() - t0:.0f} s)\n")
    print(md)


if __name__ == "__main__":
    main()
