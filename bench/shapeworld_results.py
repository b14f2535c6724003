"""The self-improvement results table on ShapeWorld: base, SFT, C-SFT, DPO, C-DPO, oracle-selected SFT.

    python bench/shapeworld_results.py [--seeds 0 1 2] [--out bench/results] [--train-per-subtask 40]

For every seed: audit the train prompts with the shipped model (N candidates each), curate with
the model's own verdicts (and, for the baseline, with the oracle's), train each variant, and audit
the eval prompts with every model. Writes OUT/results.md (mean and 95 % t-interval over seeds,
per band and overall, for the oracle generation score and non-unification) and OUT/results.json.
Each seed's run directory is kept and resumable: rerunning continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from unigap.audit.runner import AuditConfig, NoBar, audit_into, metrics_for, record_provenance
from unigap.config import load_config
from unigap.curation.curate import CurateConfig
from unigap.curation.dataset import write_curation
from unigap.models.base import ModelConfig, load_model
from unigap.prompts.base import SuiteConfig, load_prompts
from unigap.store import RunStore
from unigap.training.improve import ImproveConfig, improve

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {  # name -> (config file, curriculum mode, selector)
    "SFT": ("sft_tiny.yaml", "none", "self"),
    "C-SFT": ("sft_tiny.yaml", "fixed", "self"),
    "DPO": ("dpo_tiny.yaml", "none", "self"),
    "C-DPO": ("dpo_tiny.yaml", "fixed", "self"),
    "oracle-SFT": ("sft_tiny.yaml", "none", "oracle"),
}
METRICS = {"generation_score/oracle": "oracle generation score", "non_unification": "non-unification"}
GROUPS = ("easy", "medium", "hard", "overall")
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571}


def train_variant(name: str, seed: int, run_dir: Path, log) -> Path:
    file, mode, selector = VARIANTS[name]
    data = run_dir / f"data-{selector}"
    if not (data / "manifest.json").exists():
        write_curation(run_dir, data, CurateConfig(selector=selector, rule="all_accepted"))  # = the run default
    cfg = load_config(ImproveConfig, ROOT / "configs" / file, [f"curriculum.mode={mode}", f"seed={seed}"])
    out = run_dir / f"ckpt-{name}"
    improve(cfg, data, out, log=log)
    return out / "model"


def one_seed(seed: int, out: Path, args: argparse.Namespace) -> dict:
    run_dir = out / f"seed{seed}"
    log = lambda m: print(f"[seed {seed}] {m}", flush=True)
    audit = AuditConfig(n=args.n, seed=seed, n_boot=200)
    train = load_prompts(SuiteConfig(split="train", per_subtask=args.train_per_subtask))
    evals = load_prompts(SuiteConfig(split="eval", per_subtask=args.eval_per_subtask))
    ids = {p.id for p in evals}
    models = {"base": ModelConfig(name="tiny")}
    with RunStore.open(run_dir) as store:
        base = load_model(models["base"])
        record_provenance(store, seed, base)
        audit_into(store, audit, train, base, NoBar())
        for name in VARIANTS:
            t0 = time.time()
            models[name] = ModelConfig(name="tiny", path=str(train_variant(name, seed, run_dir, log)))
            log(f"{name} trained in {time.time() - t0:.0f} s")
        result = {}
        for name, mc in models.items():
            model = base if name == "base" else load_model(mc)
            audit_into(store, audit.model_copy(update={"n": args.eval_n}), evals, model, NoBar(), source=name)
            result[name] = metrics_for(store, name, ids, 200, seed)["metrics"]
    return result


def value(metrics: dict, key: str, group: str) -> float:
    m = metrics[key]
    e = m["overall"] if group == "overall" else m["bands"].get(group, {})
    return float("nan") if e.get("value") is None else 100 * e["value"]


def summary(per_seed: list[dict]) -> dict:
    out: dict = {}
    for variant in per_seed[0]:
        for key in METRICS:
            for group in GROUPS:
                vals = np.array([value(r[variant], key, group) for r in per_seed])
                half = T95.get(len(vals) - 1, 1.96) * vals.std(ddof=1) / math.sqrt(len(vals)) if len(vals) > 1 else 0.0
                out.setdefault(variant, {}).setdefault(key, {})[group] = [float(vals.mean()), float(half)]
    return out


def markdown(s: dict, seeds: list[int]) -> str:
    lines = [f"Eval split, mean ± 95 % t-interval over seeds {seeds} (%).", ""]
    for key, label in METRICS.items():
        lines += [f"**{label}**", "", "| model | " + " | ".join(GROUPS) + " |", "|---" * (len(GROUPS) + 1) + "|"]
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
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps({"summary": s, "per_seed": per_seed}, indent=1))
    md = markdown(s, args.seeds)
    (args.out / "results.md").write_text(md + f"\n({time.time() - t0:.0f} s)\n")
    print(md)


if __name__ == "__main__":
    main()
