"""When does self-improvement work? The self-judge's strength as the variable (issue 17).

    python bench/judge_strength.py [--out bench/results/judge_strength] [--seeds 0 1 2]
                                   [--steps 0 250 500 1000 1500 3000] [--oracle-selector]
                                   [--pretrain-dir DIR] [--recipe YAML] [--run-config YAML]

The knob: the number of judge-training steps of configs/pretrain_strong_judge.yaml (the shipped
tiny checkpoint + training that is mostly the paper's question on the model's own images with the
oracle's verdict; constant lr, so the snapshot after k steps is the k-step recipe). 0 steps = the
shipped tiny checkpoint, the last = src/unigap/assets/strong-judge. The bench pretrains them (one
resumable run, snapshots at the intermediate steps) unless --pretrain-dir holds them already.

On every checkpoint and seed it runs the same `unigap run` (configs/run_tiny.yaml with
`model.path=<checkpoint>`, report off) and measures:
  x  the base self-judge on its own train images (what curation selects from): acceptance precision
     (share of accepted images the oracle confirms; with the default selection it is the curated
     set's precision) and AUROC of P(match) (scored here, the run's judge is in parse mode), pooled
     per band; `--oracle-selector` adds the perfect-selector end (tiny, curate.selector=oracle:
     precision 1.0 in every band);
  y  change in oracle generation and in non-unification on the eval split, and the win rate of the
     improved judge on the base eval images (with the share of wins that are corrected false positives).
Writes OUT/judge_strength.md (mean and 95 % t-interval over seeds), OUT/judge_strength.json and
OUT/judge_strength.png. Every run directory is kept under OUT/runs and resumes.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GROUPS = ("easy", "medium", "hard", "overall")
ORACLE = "oracle"  # the perfect-selector end of the knob: the shipped tiny model, `curate.selector=oracle`
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571}


def checkpoint_path(steps: int, final: int, pretrain_dir: Path) -> str:
    """0 = the shipped tiny model; a snapshot directory step_<k> where one exists; else the final checkpoint."""
    if steps == 0:
        return "tiny"
    snap = pretrain_dir / f"step_{steps}"
    if (snap / "card.json").exists() or steps != final:
        return str(snap)
    return str(pretrain_dir)


def pretrain_all(pretrain_dir: Path, recipe: Path, log) -> dict:
    from unigap.config import load_config
    from unigap.models.tiny.eval import record_eval_in_card
    from unigap.training.pretrain import PretrainConfig, pretrain

    cfg = load_config(PretrainConfig, recipe, [])
    if not (pretrain_dir / "card.json").exists() or not (pretrain_dir / "model.safetensors").exists():
        t0 = time.time()
        pretrain(
            cfg,
            pretrain_dir,
            lambda s, st: log(f"pretrain {s}/{cfg.steps} loss {st['loss']:.3f}") if s % 100 == 0 else None,
        )
        log(f"pretrained in {time.time() - t0:.0f} s")
    for k in [*cfg.snapshots, cfg.steps]:
        path = pretrain_dir if k == cfg.steps else pretrain_dir / f"step_{k}"
        if "eval" not in json.loads((path / "card.json").read_text()):
            record_eval_in_card(path, 40)
    return {"final": cfg.steps, "snapshots": cfg.snapshots}


def run_one(ckpt: str, seed: int, run_dir: Path, run_config: Path, extra: tuple[str, ...] = ()) -> dict:
    from unigap.config import load_config
    from unigap.pipeline.run import RunConfig, run_loop

    if (run_dir / "results.json").exists():  # finished: measure it as it is (even if RunConfig gained keys since)
        return json.loads((run_dir / "results.json").read_text())
    cfg = load_config(RunConfig, run_config, [f"model.path={ckpt}", f"seed={seed}", "report=false", *extra])
    t0 = time.time()
    results = run_loop(cfg, run_dir, log=lambda m: None)
    results["wall_seconds"] = round(time.time() - t0, 1)
    return results


def train_probs(run_dir: Path, ckpt: str) -> dict[int, float]:
    """P(match) of the base self-judge for every base train candidate (cached in the run directory)."""
    cache = run_dir / "base_train_probs.json"
    if cache.exists():
        return {int(k): v for k, v in json.loads(cache.read_text()).items()}
    import torch

    from unigap.models.base import ModelConfig, load_model
    from unigap.store import RunStore
    from unigap.verdict import question

    model = load_model(ModelConfig(name="tiny", path=ckpt))
    with RunStore.open(run_dir, create=False) as store:
        texts = {p.id: p.text for p in store.prompts(split="train")}
        cands = [c for c in store.candidates(source="base") if c.prompt_id in texts]
        images = torch.from_numpy(np.stack([store.load_image(c.png) for c in cands]))
    probs = model.score_probs(images, [question(texts[c.prompt_id]) for c in cands])
    out = {c.id: float(p) for c, p in zip(cands, probs)}
    cache.write_text(json.dumps(out))
    return out


def measure(run_dir: Path, ckpt: str, results: dict) -> dict:
    """The x (base judge on train images) and y (changes, win rate) of one run."""
    from dataclasses import replace

    from unigap.analysis.diagnostics import judge_diagnostics, run_diagnostics
    from unigap.analysis.winrate import win_rate
    from unigap.store import RunStore

    probs = train_probs(run_dir, ckpt)
    with RunStore.open(run_dir, create=False) as store:
        train_ids = {p.id for p in store.prompts(split="train")}
        eval_ids = {p.id for p in store.prompts(split="eval")}
        rows = [r for r in store.judgments(source="base") if r.prompt_id in train_ids]
        rows = [replace(r, prob=probs.get(r.candidate_id)) if r.judge == "self" else r for r in rows]
        judge = judge_diagnostics(rows, "self", "oracle", n_boot=200)
        eval_rows = [r for r in store.judgments(source="base") if r.prompt_id in eval_ids]
        drift = judge_drift(eval_rows)
        wr = win_rate(eval_rows, "self", "model:improved", "oracle", n_boot=200)
        diag = run_diagnostics(store, eval_ids, n_boot=200)
        guard = (store.stage("guard") or {}).get("info")
        oracle = {r.candidate_id: r.verdict for r in rows if r.judge == "oracle"}
    curated = curated_precision(run_dir / "data" / "sft.parquet", oracle)
    out = {
        "judge": {
            g: {m: judge["bands"][g][m]["value"] for m in ("acceptance_precision", "auroc", "recall")} for g in GROUPS
        },
        "win_rate": wr["win_rate"]["overall"]["value"],
        "fp_share": wr["fp_correction_share_of_wins"],
        "kinds": wr["kinds_total"],
        "guard": guard,
        "curated": curated,
        "drift": drift,
        "exploitation": diag["exploitation"].get("oracle"),
        "seconds": round(sum(results.get("stage_seconds", {}).values()), 1),
    }
    for key, name in (("generation_score/oracle", "gen"), ("non_unification", "nonu")):
        for g in GROUPS:
            before = _value(results["before"], key, g)
            after = _value(results["after"], key, g)
            out.setdefault(name, {})[g] = {"before": before, "after": after, "delta": after - before}
    return out


def judge_drift(rows: list) -> dict[str, dict[str, float]]:
    """Recall and specificity against the oracle of the base ("self") and the improved ("model:improved")
    self-judge on the same base eval images: how the understanding branch moved."""
    by: dict[int, dict[str, int | None]] = {}
    for r in rows:
        by.setdefault(r.candidate_id, {})[r.judge] = r.verdict
    out = {}
    for name, judge in (("base", "self"), ("improved", "model:improved")):
        pos = [v[judge] for v in by.values() if v.get("oracle") == 1 and v.get(judge) is not None]
        neg = [v[judge] for v in by.values() if v.get("oracle") == 0 and v.get(judge) is not None]
        out[name] = {
            "recall": float(np.mean(pos)) if pos else None,
            "specificity": float(1 - np.mean(neg)) if neg else None,
        }
    return out


def curated_precision(sft: Path, oracle: dict[int, int | None]) -> dict[str, dict]:
    """Per band: how many images SFT trains on and the share the oracle confirms (= the base judge's
    acceptance precision under the default selection; 1.0 with `curate.selector=oracle`)."""
    import pyarrow.parquet as pq

    t = pq.read_table(sft, columns=["candidate_id", "band"]).to_pydict()
    out = {}
    for g in GROUPS:
        ok = [oracle.get(c) for c, b in zip(t["candidate_id"], t["band"]) if g == "overall" or b == g]
        out[g] = {"n": len(ok), "precision": float(np.mean([v == 1 for v in ok])) if ok else None}
    return out


def _value(section: dict, key: str, group: str) -> float:
    m = section["metrics"][key]
    return 100 * (m["overall"] if group == "overall" else m["bands"][group])["value"]


def mean_ci(values: list[float | None]) -> tuple[float, float]:
    vals = [v for v in values if v is not None]
    if not vals:
        return float("nan"), float("nan")
    if len(vals) == 1:
        return vals[0], float("nan")
    return float(np.mean(vals)), T95.get(len(vals) - 1, 1.96) * float(np.std(vals, ddof=1)) / math.sqrt(len(vals))


def worst_band(run: dict) -> float | None:
    """The lowest per-band acceptance precision of the base judge (the band SFT trains worst on)."""
    vals = [run["judge"][g]["acceptance_precision"] for g in GROUPS[:3]]
    return None if any(v is None for v in vals) else min(vals)


def summarise(per_run: dict[int, list[dict]]) -> dict:
    out = {}
    for k, runs in per_run.items():
        s = {"n_seeds": len(runs)}
        for g in GROUPS:
            s[f"precision/{g}"] = mean_ci([r["judge"][g]["acceptance_precision"] for r in runs])
            s[f"auroc/{g}"] = mean_ci([r["judge"][g]["auroc"] for r in runs])
            s[f"recall/{g}"] = mean_ci([r["judge"][g]["recall"] for r in runs])
            s[f"dgen/{g}"] = mean_ci([r["gen"][g]["delta"] for r in runs])
            s[f"dnonu/{g}"] = mean_ci([r["nonu"][g]["delta"] for r in runs])
        s["precision/worst"] = mean_ci([worst_band(r) for r in runs])
        for g in GROUPS:
            s[f"curated/{g}"] = mean_ci([r["curated"][g]["precision"] for r in runs])
            s[f"curated_n/{g}"] = mean_ci([r["curated"][g]["n"] for r in runs])
        s["curated/worst"] = mean_ci([min(r["curated"][g]["precision"] or 0.0 for g in GROUPS[:3]) for r in runs])
        s["win_rate"] = mean_ci([100 * r["win_rate"] for r in runs])
        for side in ("base", "improved"):
            for m in ("recall", "specificity"):
                s[f"drift/{side}/{m}"] = mean_ci([r["drift"][side][m] for r in runs])
        s["fp_share"] = mean_ci([None if r["fp_share"] is None else 100 * r["fp_share"] for r in runs])
        s["seconds"] = mean_ci([r["seconds"] for r in runs])
        out[k] = s
    return out


def cell(mc: tuple[float, float], digits: int = 1) -> str:
    m, h = mc
    if m != m:
        return "n/a"
    return f"{m:.{digits}f}" if h != h else f"{m:.{digits}f} ± {h:.{digits}f}"


def markdown(summary: dict, cards: dict) -> str:
    lines = [
        "Judge-training steps (the knob) vs self-improvement, `unigap run` on each checkpoint, "
        "mean ± 95 % t-interval over seeds.",
        "",
        "| judge steps | seeds | curated-set precision easy / medium / hard / overall (self selection: the base "
        "judge's acceptance precision) | SFT images easy / medium / hard | AUROC overall | "
        "Δ oracle generation (points) | Δ non-unification (points) | win rate % | FP-corrected share of wins % |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for k, s in summary.items():
        prec = " / ".join(cell(s[f"curated/{g}"], 2) for g in GROUPS)
        n = " / ".join(cell(s[f"curated_n/{g}"], 0) for g in GROUPS[:3])
        auroc = "n/a (oracle)" if k == ORACLE else cell(s["auroc/overall"], 3)
        lines.append(
            f"| {k} | {s['n_seeds']} | {prec} | {n} | {auroc} | {cell(s['dgen/overall'])} | "
            f"{cell(s['dnonu/overall'])} | {cell(s['win_rate'])} | {cell(s['fp_share'])} |"
        )
    lines += [
        "",
        "Per band (Δ generation / Δ non-unification, points):",
        "",
        "| judge steps | easy | medium | hard |",
        "|---|---|---|---|",
    ]
    for k, s in summary.items():
        lines.append(
            f"| {k} | " + " | ".join(f"{cell(s[f'dgen/{g}'])} / {cell(s[f'dnonu/{g}'])}" for g in GROUPS[:3]) + " |"
        )
    lines += [
        "",
        "The base judge on its own train images per band (AUROC of P(match) / recall):",
        "",
        "| judge steps | easy | medium | hard | worst-band precision |",
        "|---|---|---|---|---|",
    ]
    for k, s in summary.items():
        lines.append(
            f"| {k} | "
            + " | ".join(f"{cell(s[f'auroc/{g}'], 3)} / {cell(s[f'recall/{g}'], 2)}" for g in GROUPS[:3])
            + f" | {cell(s['precision/worst'], 2)} |"
        )
    lines += [
        "",
        "The self-judge before → after on the same base eval images (oracle as truth): recall / specificity:",
        "",
        "| judge steps | recall | specificity |",
        "|---|---|---|",
    ]
    for k, s in summary.items():
        lines.append(
            f"| {k} | {cell(s['drift/base/recall'], 2)} → {cell(s['drift/improved/recall'], 2)} | "
            f"{cell(s['drift/base/specificity'], 2)} → {cell(s['drift/improved/specificity'], 2)} |"
        )
    if ORACLE in summary:
        lines += [
            "",
            f"The {ORACLE!r} row trains on the oracle's choice of the shipped tiny model's images: its judge "
            "columns describe that model's self-judge, which did not select.",
        ]
    lines += [
        "",
        "Checkpoints (card evaluation, 40 eval prompts per subtask; generation / understanding):",
        "",
        "| judge steps | easy | medium | hard | overall |",
        "|---|---|---|---|---|",
    ]
    for k, card in cards.items():
        ev = card.get("eval", {})
        row = [ev.get("bands", {}).get(g) if g != "overall" else ev.get("overall") for g in GROUPS]
        lines.append(
            f"| {k} | "
            + " | ".join(
                "-" if r is None else f"{r['generation_accuracy']:.3f} / {r['understanding_accuracy']:.3f}" for r in row
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ys = (
        ("dgen/overall", "Δ oracle generation (points)", 0.0),
        ("dnonu/overall", "Δ non-unification (points)", 0.0),
        ("win_rate", "win rate (%)", 50.0),
    )
    xs = (
        ("curated/overall", "curated-set precision, overall (oracle-confirmed share of SFT images)"),
        ("curated/worst", "curated-set precision, worst band"),
        ("auroc/overall", "base-judge AUROC (train images)"),
    )
    fig, axes = plt.subplots(len(xs), len(ys), figsize=(12, 10), squeeze=False)
    for i, (xk, xl) in enumerate(xs):
        for j, (yk, yl, ref) in enumerate(ys):
            ax = axes[i][j]
            for k, s in summary.items():
                (x, xe), (y, ye) = s[xk], s[yk]
                if x != x or (k == ORACLE and xk.startswith("auroc")):  # the oracle selector has no self-judge AUROC
                    continue
                ax.errorbar(x, y, xerr=None if xe != xe else xe, yerr=None if ye != ye else ye, fmt="o", capsize=3)
                ax.annotate(
                    f"{k} steps" if k != ORACLE else "oracle selector",
                    (x, y),
                    textcoords="offset points",
                    xytext=(5, 5),
                    fontsize=8,
                )
            ax.axhline(ref, color="gray", lw=0.8, ls="--")
            ax.set_xlabel(xl, fontsize=8)
            ax.set_ylabel(yl, fontsize=8)
    fig.suptitle("Self-improvement vs the strength of the self-judge (ShapeWorld, mean ± 95 % CI over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def profile(ckpt: str, per_subtask: int, n: int, seed: int = 0) -> dict:
    """A quick look at a checkpoint's judge on its own train images (no training): per band the oracle
    generation accuracy, and the self-judge's acceptance precision (parse mode, the run's default
    selection) and AUROC of P(match). The full measurement is the run's own audit_train (`measure`)."""
    from unigap import world
    from unigap.analysis.diagnostics import judge_diagnostics
    from unigap.models.base import ModelConfig, SelfJudgeConfig, default_sampling, load_model
    from unigap.prompts.base import SuiteConfig, load_prompts
    from unigap.records import candidate_seed
    from unigap.verdict import question

    model = load_model(ModelConfig(name="tiny", path=ckpt))
    prompts = [p for p in load_prompts(SuiteConfig(split="train", per_subtask=per_subtask)) for _ in range(n)]
    seeds = [candidate_seed(seed, p.id, i % n) for i, p in enumerate(prompts)]
    gen = model.generate([p.text for p in prompts], seeds, default_sampling(model))
    verdicts = model.judge(gen.images, [p.text for p in prompts], SelfJudgeConfig(mode="parse"))
    probs = model.score_probs(gen.images, [question(p.text) for p in prompts])
    truth = [int(world.oracle(img, p.spec)[0]) for img, p in zip(gen.images.numpy(), prompts)]
    rows = []
    for i, (p, v, pr, t) in enumerate(zip(prompts, verdicts, probs, truth)):
        rows += [
            Row(i, "self", v.verdict, pr, p.id, p.subtask, p.band),
            Row(i, "oracle", t, None, p.id, p.subtask, p.band),
        ]
    d = judge_diagnostics(rows, n_boot=200)
    gen_acc = {b: float(np.mean([t for t, p in zip(truth, prompts) if p.band == b])) for b in GROUPS[:3]}
    gen_acc["overall"] = float(np.mean(truth))
    return {"generation": gen_acc, "judge": d["bands"]}


@dataclass
class Row:
    candidate_id: int
    judge: str
    verdict: int | None
    prob: float | None
    prompt_id: str
    subtask: str
    band: str | None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "judge_strength")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, nargs="+", default=[0, 250, 500, 1000, 1500, 3000])
    ap.add_argument(
        "--recipe",
        type=Path,
        default=ROOT / "configs" / "pretrain_strong_judge.yaml",
        help="the judge-training recipe whose steps are the knob",
    )
    ap.add_argument(
        "--run-config",
        type=Path,
        default=ROOT / "configs" / "run_tiny.yaml",
        help="the self-improvement run made on every checkpoint",
    )
    ap.add_argument(
        "--pretrain-dir", type=Path, default=None, help="holds the judge-training run (default OUT/pretrain)"
    )
    ap.add_argument("--no-pretrain", action="store_true", help="use the checkpoints already in --pretrain-dir")
    ap.add_argument("--existing-only", action="store_true", help="measure only the runs that have finished")
    ap.add_argument(
        "--oracle-selector",
        action="store_true",
        help="also run the shipped tiny model with curate.selector=oracle (a perfect selector) on every seed",
    )
    ap.add_argument(
        "--profile",
        nargs="+",
        default=None,
        metavar="CKPT",
        help="only profile these checkpoints' judges on train images (no training), then exit",
    )
    ap.add_argument("--profile-prompts", type=int, default=10, help="train prompts per subtask for --profile")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    def log(m):
        print(m, flush=True)

    if args.profile:
        from unigap.analysis.diagnostics import fmt

        for ckpt in args.profile:
            t0 = time.time()
            prof = profile(ckpt, args.profile_prompts, 4)
            log(
                f"{ckpt} ({time.time() - t0:.0f} s): generation "
                + json.dumps({k: round(v, 3) for k, v in prof["generation"].items()})
            )
            for band, e in prof["judge"].items():
                log(
                    f"  {band:8s} accepted {e['accepted']:4d}  precision {fmt(e['acceptance_precision'])}  "
                    f"recall {fmt(e['recall'])}  AUROC {fmt(e['auroc'])}"
                )
        return
    pre_dir = args.pretrain_dir or args.out / "pretrain"
    if args.no_pretrain:  # the checkpoints exist (e.g. snapshots of a longer run of the same recipe)
        from unigap.config import load_config
        from unigap.training.pretrain import PretrainConfig

        final = load_config(PretrainConfig, args.recipe, []).steps
    else:
        final = pretrain_all(pre_dir, args.recipe, log)["final"]
    per_run, cards, t_start = {}, {}, time.time()
    for k in args.steps:
        ckpt = checkpoint_path(k, final, pre_dir)
        from unigap.models.tiny.checkpoint import read_card, resolve_path

        cards[k] = read_card(resolve_path(ckpt))
        for seed in args.seeds:
            run_dir = args.out / "runs" / f"k{k}_s{seed}"
            if args.existing_only and not (run_dir / "results.json").exists():
                log(f"steps {k} seed {seed}: no finished run in {run_dir}, left out (--existing-only)")
                continue
            results = run_one(ckpt, seed, run_dir, args.run_config)
            per_run.setdefault(k, []).append(measure(run_dir, ckpt, results))
            last = per_run[k][-1]
            log(f"steps {k} seed {seed}: {json.dumps(last['gen']['overall'])} win {last['win_rate']:.3f}")
    if args.oracle_selector:
        from unigap.models.tiny.checkpoint import read_card, resolve_path

        cards[ORACLE] = read_card(resolve_path("tiny"))
        for seed in args.seeds:
            run_dir = args.out / "runs" / f"oracle_s{seed}"
            if args.existing_only and not (run_dir / "results.json").exists():
                continue
            results = run_one("tiny", seed, run_dir, args.run_config, ("curate.selector=oracle",))
            per_run.setdefault(ORACLE, []).append(measure(run_dir, "tiny", results))
            log(f"oracle selector seed {seed}: {json.dumps(per_run[ORACLE][-1]['gen']['overall'])}")
    summary = summarise(per_run)
    (args.out / "judge_strength.json").write_text(
        json.dumps({"per_run": per_run, "summary": summary, "seconds": round(time.time() - t_start, 1)}, indent=1)
    )
    (args.out / "judge_strength.md").write_text(markdown(summary, cards))
    plot(summary, args.out / "judge_strength.png")
    log((args.out / "judge_strength.md").read_text())


if __name__ == "__main__":
    main()
