"""`unigap analyse RUN_DIR`: everything the report shows, computed once into analysis.json.

Sections (each says what is missing and which command makes it when its inputs are absent):
  before / after   audit metrics of the base and improved model on the eval prompts
  win_rate         understanding co-improvement on the base model's eval images (§1.5-§1.6)
  curriculum       discard-pool replays during training
  guard            the data-quality guard's result
  entk             eNTK evidence (§6.4), exact per-sample gradients on the tiny backend
  agreement        Cohen's kappa (bootstrap CI) and confusion matrix of every pair of judges
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from unigap.analysis import entk
from unigap.analysis.agreement import agreement_table, verdicts_from_rows
from unigap.analysis.winrate import win_rate
from unigap.audit.runner import benchmarks_of, metrics_for
from unigap.errors import UnigapError
from unigap.files import read_json, write_json
from unigap.models.base import ModelConfig, load_model
from unigap.store import RunStore
from unigap.vocab import IMPROVED_JUDGE, SELF_JUDGE, SOURCE_BASE, SOURCE_IMPROVED, is_external


def missing(what: str, command: str) -> dict:
    return {"missing": what, "command": command}


def eval_ids(store: RunStore) -> set[str]:
    return {p.id for p in store.prompts(split="eval")}


def external_judges(store: RunStore) -> list[str]:
    return [j for j in store.judges() if is_external(j)]


def audit_section(store: RunStore, source: str, ids: set[str], n_boot: int, seed: int) -> dict:
    if not any(c.prompt_id in ids for c in store.candidates(source=source)):
        return missing(f"no {source!r} candidates on eval prompts", "unigap run (or unigap audit)")
    return metrics_for(store, source, ids, n_boot, seed)


def winrate_section(store: RunStore, ids: set[str], n_boot: int, seed: int) -> dict:
    rows = [r for r in store.judgments(source=SOURCE_BASE) if r.prompt_id in ids]
    if not any(r.judge == "model:improved" for r in rows):
        return missing("no judgments of the base images by the improved model", "unigap run (stage winrate)")
    out, benchmarks = {}, benchmarks_of(store, ids)
    for label in external_judges(store):
        out[label] = win_rate(rows, SELF_JUDGE, IMPROVED_JUDGE, label, n_boot, seed, benchmarks)
    return out


def curriculum_section(run_dir: Path) -> dict:
    path = run_dir / "improve" / "train.json"
    if not path.exists():
        return missing("no training history", "unigap run (stage improve)")
    history = read_json(path, f"rerun `unigap run --out {run_dir}` (stage improve rewrites it)")
    return {
        "replays": history.get("replays", []),
        "epochs": history.get("epochs", []),
        "acceptance": history.get("acceptance", []),
    }


def guard_section(store: RunStore) -> dict:
    st = store.stage("guard")
    return st["info"] if st else missing("the data-quality guard did not run", "set guard.judge in the improve config")


def agreement_section(store: RunStore, n_boot: int, seed: int) -> dict:
    """Every pair of judges over all stored verdicts (candidates without a verdict are excluded per pair)."""
    by_judge = verdicts_from_rows(store.judgments())
    if len(by_judge) < 2:
        return missing("fewer than two judges with stored verdicts", "add a judge to the run config")
    verdicts = {j: by_judge[j] for j in sorted(by_judge)}
    # pairs with no candidate in common (two benchmarks' scorers in a mixed suite) are left out
    return {"pairs": [s.as_dict() for s in agreement_table(verdicts, n_boot, seed) if s.n or s.excluded]}


def understand_section(run_dir: Path) -> list[dict]:
    """lmms-eval scores of the base and improved model (`understand.tasks:`), side by side; [] when not run."""
    from unigap.understand.stage import side_by_side

    return side_by_side(run_dir)


def diagnostics_section(store: RunStore, ids: set[str], n_boot: int, seed: int) -> dict:
    """The self-judge as a selector (analysis.diagnostics): eval split, every view x external judge."""
    from unigap.analysis.diagnostics import run_diagnostics

    if not external_judges(store):
        return missing("no external judge to score the self-judge against", "add a judge (e.g. oracle)")
    return run_diagnostics(store, ids, n_boot, seed)


def analyse(
    run_dir: str | Path, n_boot: int = 1000, seed: int = 0, entk_samples: int = 48, allow_partial: bool = False
) -> dict:
    """Every analysis of a finished run (allow_partial: of what an unfinished one holds, recorded as
    "partial") into RUN_DIR/analysis.json, written atomically."""
    from unigap.store.complete import require_finished_run

    run_dir = Path(run_dir)
    if not (run_dir / "run.sqlite").exists():
        raise UnigapError(
            f"{run_dir} is not a run directory (no run.sqlite); make one with `unigap run --out {run_dir}`"
        )
    with RunStore.open(run_dir, create=False) as store:
        gaps = require_finished_run(store, run_dir, allow_partial, "analyse")
        ids = eval_ids(store)
        result = {
            "before": audit_section(store, SOURCE_BASE, ids, n_boot, seed),
            "after": audit_section(store, SOURCE_IMPROVED, ids, n_boot, seed),
            "win_rate": winrate_section(store, ids, n_boot, seed),
            "curriculum": curriculum_section(run_dir),
            "guard": guard_section(store),
            "understand": understand_section(run_dir),
            "agreement": agreement_section(store, n_boot, seed),
        }
        result["entk"] = entk_section(store, run_dir, entk_samples, seed)
        result["diagnostics"] = diagnostics_section(store, ids, n_boot, seed)
        if gaps:
            result["partial"] = gaps
    write_json(run_dir / "analysis.json", result)
    return result


# --- eNTK ---------------------------------------------------------------------------------


def entk_section(store: RunStore, run_dir: Path, n: int, seed: int) -> dict:
    cfg = store.config() or {}
    model_cfg = ModelConfig(**cfg.get("model", {})) if cfg.get("model") else None
    if model_cfg is None or model_cfg.name != "tiny":
        return missing("exact eNTK needs the tiny backend (use the proxy for large models)", "-")
    if n <= 0:
        return missing("skipped (entk_samples 0)", "unigap analyse RUN --entk-samples 48")
    data = run_dir / "data" / "sft.parquet"
    if not data.exists():
        return missing("no curated SFT data", "unigap run (stage curate)")
    model = load_model(model_cfg.model_copy(update={"device": "cpu"}))  # exact per-sample gradients: CPU
    train = _train_samples(data, n, seed)
    kernel = entk.matched_kernel(model, train["prompt"], train["tokens"], model.components()["llm"])
    return {
        "params": "llm (shared trunk)",
        "n_train": len(train["prompt"]),
        "matched_vs_mismatched": kernel,
        "closeness": _closeness(model, store, train, seed),
    }


def _train_samples(path: Path, n: int, seed: int) -> dict:
    from unigap.curation.dataset import read_parquet_rows

    rows = read_parquet_rows(path, ["prompt", "tokens"])
    pick = np.random.default_rng(seed).permutation(len(rows))[:n]
    return {"prompt": [rows[i]["prompt"] for i in pick], "tokens": torch.tensor([rows[i]["tokens"] for i in pick])}


def _closeness(model, store: RunStore, train: dict, seed: int) -> dict:
    """Eval samples whose understanding improved vs the rest: closeness to the training data."""
    labels = external_judges(store)
    if not labels:
        return missing("no external judge", "add a judge")
    rows = {(r.candidate_id, r.judge): r for r in store.judgments(source=SOURCE_BASE)}
    ids = eval_ids(store)
    cands = [c for c in store.candidates(source=SOURCE_BASE) if c.idx == 0 and c.prompt_id in ids]
    verdicts = [
        (rows.get((c.id, SELF_JUDGE)), rows.get((c.id, IMPROVED_JUDGE)), rows.get((c.id, labels[0]))) for c in cands
    ]
    keep = [i for i, v in enumerate(verdicts) if all(x is not None and x.verdict is not None for x in v)]
    if not keep:
        return missing("no eval candidates judged by base, improved and external judges", "unigap run")
    improved = np.array(
        [
            verdicts[i][0].verdict != verdicts[i][2].verdict and verdicts[i][1].verdict == verdicts[i][2].verdict
            for i in keep
        ]
    )
    prompts = {p.id: p.text for p in store.prompts(split="eval")}
    ev_prompts = [prompts[cands[i].prompt_id] for i in keep]
    ev_tokens = torch.tensor(np.stack([cands[i].tokens for i in keep]))
    gap = entk.closeness_gap(
        model, model.components()["llm"], (ev_prompts, ev_tokens), (train["prompt"], train["tokens"]), improved, seed
    )
    return {"label": labels[0], **gap}
