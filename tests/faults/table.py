"""The table of faults: what is killed or corrupted, where, and the expected outcome.

KILLS: SIGKILL at a named fault point (unigap.faults.point; "NAME DETAIL" glob, first and last match) of
a job in tests/faults/jobs.py. test_kills.py kills at every one of them (plus points spread over the
run, a kill chain and seeded random delays); the expected outcome of every kill is the same: the rerun
ends with exactly the outputs of an uninterrupted run.
CORRUPTIONS: a file of a finished or interrupted stage damaged on disk; test_fault_table.py applies each
one and checks its outcome (a refusal naming the file and the command that repairs it, or a repair).
"""

from __future__ import annotations

from dataclasses import dataclass

SAME = "rerun ends bit-identical to an uninterrupted run"


@dataclass(frozen=True)
class Kill:
    job: str  # a Job name of tests/faults/jobs.py
    at: str  # glob over "point-name detail"
    what: str
    expected: str = SAME


KILLS = [
    Kill("audit", "db store * candidates", "audit: after a batch of candidates is committed (first and last batch)"),
    Kill("audit", "file *.png", "audit: after a candidate's PNG is written, before the row that names it"),
    Kill("audit", "db store * judgments by 'self'", "audit: between self-judge batches"),
    Kill("audit", "db record stage*", "audit: after the stage is recorded running / done"),
    Kill("audit", "file *metrics.json", "audit: after metrics.json, before the process exits"),
    Kill("curate", "file *sft.parquet", "curate: after sft.parquet, before dpo/discard/manifest"),
    Kill("curate", "file *discard.parquet", "curate: after the last parquet file, before prompts.jsonl"),
    Kill("curate", "file *prompts.jsonl", "curate: after prompts.jsonl, before the manifest (the commit)"),
    Kill("improve-sft", "improve.step *", "improve: between optimizer steps (first and last step of the run)"),
    Kill(
        "improve-sft", "improve.weights *000002*", "improve: after epoch 2's weights, before the replay and its state"
    ),
    Kill("improve-sft", "curriculum.batch *", "improve: during the curriculum replay (first and last batch)"),
    Kill("improve-sft", "commit.staged *000002*", "improve: epoch 2 written whole, not yet renamed into place"),
    Kill("improve-sft", "commit.renamed *000002*", "improve: epoch 2 renamed into place, LATEST not yet naming it"),
    Kill("improve-sft", "commit.latest *000002*", "improve: LATEST names epoch 2, older epoch not yet removed"),
    Kill("improve-sft", "commit.linked *", "improve: model link moved, train.json not yet rewritten"),
    Kill("improve-dpo", "commit.staged *", "improve (DPO, shipped model): every epoch's commit, before the rename"),
    Kill(
        "improve-grpo",
        "improve.step *",
        "improve (GRPO): between steps (samples drawn, reward computed, not committed)",
    ),
    Kill("improve-grpo", "commit.staged *000002*", "improve (GRPO): a mid-epoch commit written, not yet renamed"),
    Kill("improve-grpo", "commit.latest *", "improve (GRPO): LATEST names a commit, older one not yet removed"),
    Kill("improve-dpo", "curriculum.batch *", "improve (DPO): during the replay (the new pairs' reference log-probs)"),
    Kill("pretrain", "pretrain.step step 6", "pretrain: between two checkpoints (step 6 of 12, last commit at 4)"),
    Kill("pretrain", "commit.renamed *000008*", "pretrain: step 8 renamed into place, LATEST not yet naming it"),
    Kill("pretrain", "commit.latest *000008*", "pretrain: LATEST names step 8, step 4 not yet removed"),
    Kill("pretrain", "file *card.json", "pretrain: final weights and card written (a rerun trains nothing)"),
    Kill("run", "db record stage*", "unigap run: at every stage boundary (first and last)"),
    Kill("run", "commit.latest *", "unigap run: inside the improve stage, after an epoch's commit"),
    Kill("run", "file *manifest.json", "unigap run: curate's manifest written, stage not yet recorded done"),
    Kill("run", "file *results.json", "unigap run: results.json written, analyse not yet run"),
    Kill("run", "file *report.html", "unigap run: report written, process not yet exited"),
    Kill("analyse", "file *analysis.json", "analyse: after analysis.json (and by seeded delay, during the analyses)"),
    Kill("report", "file *report.html", "report: after the page is written"),
    Kill(
        "understand", "journal *", "understand: a batch journaled (first and last); the rerun replays the finished ones"
    ),
    Kill("understand", "file *lmms_eval_results.json", "understand: lmms-eval's results written, understand.json not"),
]


def must(job: str) -> tuple[str, ...]:
    """The kill points of `job` that the table requires."""
    return tuple(k.at for k in KILLS if k.job == job)


@dataclass(frozen=True)
class Corruption:
    id: str
    what: str  # what is damaged
    where: str
    expected: str


CORRUPTIONS = [
    Corruption(
        "png-replaced",
        "a candidate PNG replaced by another valid PNG",
        "RUN/images/..",
        "curate and export refuse naming the image (its name is its content hash); nothing is written",
    ),
    Corruption("png-deleted", "a candidate PNG deleted", "RUN/images/..", "curate refuses naming the image"),
    Corruption(
        "parquet-cut",
        "sft.parquet cut in half",
        "DATA/sft.parquet",
        "improve (and --dry-run) refuses naming the file and `unigap curate`",
    ),
    Corruption(
        "curate-killed-before-manifest",
        "curate killed after sft.parquet",
        "DATA/",
        "improve refuses (no manifest); rerunning curate gives the uninterrupted data",
    ),
    Corruption(
        "latest-missing-epoch",
        "LATEST edited to name an epoch that is not there",
        "OUT/LATEST",
        "improve refuses naming LATEST and the missing dir",
    ),
    Corruption(
        "state-cut",
        "the latest epoch's state.pt cut in half",
        "OUT/epochs/<latest>/state.pt",
        "improve refuses naming state.pt",
    ),
    Corruption(
        "epoch-weights-changed",
        "the latest epoch's model.safetensors altered",
        "OUT/epochs/<latest>/model",
        "improve refuses: the weights do not match their card's sha256",
    ),
    Corruption(
        "stale-temp-dirs",
        "temp dirs/files left by kills (.NNNNNN.tmp, .file.*.tmp)",
        "OUT/epochs, RUN/",
        "a rerun removes the epoch temp dir and finishes; results unchanged",
    ),
    Corruption(
        "analysis-cut",
        "analysis.json cut in half",
        "RUN/analysis.json",
        "show and report name the file and `unigap analyse`; analyse rewrites it",
    ),
    Corruption(
        "metrics-cut",
        "metrics.json cut in half",
        "RUN/metrics.json",
        "show names it; rerunning the finished audit rewrites it (no model work)",
    ),
    Corruption(
        "manifest-cut", "manifest.json cut in half", "DATA/manifest.json", "improve names it and `unigap curate`"
    ),
    Corruption(
        "understand-cut",
        "understand.json cut in half",
        "RUN/understand/base/understand.json",
        "analyse names the file and the stage that rewrites it",
    ),
    Corruption(
        "db-garbage",
        "run.sqlite overwritten with garbage",
        "RUN/run.sqlite",
        "audit refuses: not a unigap run database; use a new --out",
    ),
    Corruption(
        "pretrain-step-missing",
        "the step dir LATEST names deleted",
        "OUT/steps/<latest>",
        "pretrain refuses naming LATEST and the missing dir",
    ),
]
