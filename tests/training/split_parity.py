"""What `unigap run` curates and how its SFT / DPO losses move, recorded to prove the trainer split
changed neither (issue 24: "SFT and DPO keep their behaviour").

The fixtures under tests/fixtures/split_parity/ were written by the pre-split trainer (commit e7f446c,
training/improve.py before the objectives registry) with

    PYTHONPATH=src OMP_NUM_THREADS=1 python -m tests.training.split_parity --out tests/fixtures/split_parity [--default]

and test_split_parity.py compares the current code against them. `--default` adds the embedded
default (configs/run_tiny.yaml, the shipped model; minutes) to the test-size cases (seconds).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def curated_digest(data_dir: Path) -> dict:
    """Totals and a sha256 over every curated row's identity and tokens (images are functions of tokens)."""
    import pyarrow.parquet as pq

    out = {"totals": json.loads((data_dir / "manifest.json").read_text())["totals"]}
    for name, cols in (
        ("sft", ["prompt_id", "candidate_id", "tokens"]),
        ("dpo", ["prompt_id", "chosen_tokens", "rejected_tokens"]),
        ("discard", ["prompt_id"]),
    ):
        table = pq.read_table(data_dir / f"{name}.parquet")
        table = table.select([c for c in cols if c in table.column_names]).to_pylist()  # an empty file has no columns
        out[name] = hashlib.sha256(json.dumps(table, sort_keys=True).encode()).hexdigest()
    return out


def audit_and_curate(cfg, run_dir: Path) -> None:
    """The first two stages of `unigap run` (audit_train, curate), through the pipeline's own functions."""
    from unigap.audit.runner import NoBar, audit_into, record_provenance
    from unigap.config import defaults_json
    from unigap.curation.dataset import write_curation
    from unigap.pipeline.run import Stages, audit_cfg, prepare_run
    from unigap.store import RunStore

    ready = prepare_run(cfg, run_dir)
    with RunStore.open(run_dir) as store:
        store.init_config(cfg.model_dump(mode="json"), defaults_json(cfg))
        record_provenance(store, cfg.seed, ready.base)
        stage = Stages(store, lambda m: None)  # the stage record marks the audit finished (curate checks it)
        stage(
            "audit_train",
            lambda: {
                "failures": audit_into(
                    store, audit_cfg(cfg, cfg.n), ready.train, ready.base, NoBar(), judges=ready.judges
                )
            },
        )
    write_curation(run_dir, run_dir / "data", cfg.curate)


def train(cfg, run_dir: Path, name: str) -> dict:
    """`improve` as `unigap run` calls it; the per-epoch losses and replays."""
    from unigap.training.improve import improve

    history = improve(cfg.improve_config(), run_dir / "data", run_dir / name, cfg.force, log=lambda m: None)
    return {
        "losses": [e["loss"] for e in history["epochs"]],
        "examples": [e["examples"] for e in history["epochs"]],
        "replays": history["replays"],
        "guard": (history.get("guard") or {}).get("agreement"),
    }


def small_config():
    """The test-size run (tests/_runs.py) on the shipped tiny model, its own parse-mode judge."""
    from tests._runs import small_run_config
    from unigap.models.base import ModelConfig, SelfJudgeConfig

    return small_run_config(None, model=ModelConfig(name="tiny"), n=4, self_judge=SelfJudgeConfig(mode="parse"))


def small_cases() -> dict:
    """SFT with a replay, SFT + und_weight, DPO with a replay."""
    from unigap.training.curriculum import CurriculumConfig

    cur = CurriculumConfig(mode="fixed", epoch=1, n=3)
    base = small_config()
    return {
        "small_sft": base.improve.model_copy(update={"curriculum": cur}),
        "small_sft_und": base.improve.model_copy(update={"curriculum": cur, "und_weight": 0.5}),
        "small_dpo": base.improve.model_copy(update={"method": "dpo", "curriculum": cur, "lr": 5e-4}),
    }


def record_small(work: Path) -> dict:
    cfg = small_config()
    audit_and_curate(cfg, work / "run")
    out = {"curated": curated_digest(work / "run" / "data")}
    for name, imp in small_cases().items():
        out[name] = train(cfg.model_copy(update={"improve": imp}), work / "run", name)
    return out


def record_default(work: Path) -> dict:
    """configs/run_tiny.yaml (the default run, shipped model): C-SFT as configured, and DPO."""
    from unigap.config import load_config
    from unigap.pipeline.run import RunConfig

    cfg = load_config(RunConfig, ROOT / "configs" / "run_tiny.yaml", ["report=false"])
    audit_and_curate(cfg, work / "default")
    out = {"curated": curated_digest(work / "default" / "data"), "sft": train(cfg, work / "default", "sft")}
    dpo = cfg.model_copy(update={"improve": cfg.improve.model_copy(update={"method": "dpo", "lr": 1e-4})})
    out["dpo"] = train(dpo, work / "default", "dpo")
    return out


def main() -> None:
    import tempfile

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--default", action="store_true")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        (args.out / "small.json").write_text(json.dumps(record_small(Path(tmp)), indent=1) + "\n")
        if args.default:
            (args.out / "default.json").write_text(json.dumps(record_default(Path(tmp)), indent=1) + "\n")


if __name__ == "__main__":
    main()
