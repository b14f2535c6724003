"""Curated data on disk: parquet files that `datasets.load_dataset("parquet", ...)` loads.

DATA_DIR/
  sft.parquet      prompt, image (PNG), tokens, prompt_id, subtask, band, candidate_id, seed
  dpo.parquet      prompt, chosen (PNG), rejected (PNG), chosen_tokens, rejected_tokens, ... (TRL names)
  discard.parquet  prompt, prompt_id, subtask, band, spec (JSON)
  manifest.json    counts per subtask, selector, rule, source run, model fingerprint, split
Images are stored as PNG bytes with the `datasets` Image feature; training reads the tokens
(never re-encodes PNGs).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

from unigap.curation.curate import CurateConfig, Curation, Scored, curate
from unigap.errors import DataError, UnigapError
from unigap.faults import point
from unigap.files import encode_png, read_json, write_json, write_text
from unigap.records import Prompt
from unigap.store import RunStore
from unigap.utils import sha256_file

MANIFEST = "manifest.json"
DATA_FILES = ("sft.parquet", "dpo.parquet", "discard.parquet")
PROMPTS = "prompts.jsonl"  # the curated prompts (with specs): what the guard and the curriculum need


def write_prompts(path: Path, prompts) -> None:
    lines = [json.dumps(dataclasses.asdict(p), sort_keys=True) for p in prompts]
    write_text(path, "\n".join(lines) + ("\n" if lines else ""))


def read_prompts(path: Path) -> dict[str, Prompt]:
    out = {}
    for i, line in enumerate(path.read_text().splitlines(), 1):
        try:
            p = Prompt(**json.loads(line))
        except (json.JSONDecodeError, TypeError) as err:
            raise DataError(f"{path}:{i}: not a prompt record: {err}") from None
        out[p.id] = p
    return out


def source_run(data: CuratedData, data_dir: Path) -> Path | None:
    """The audited run the data came from (its run.sqlite), if it is still where the manifest says."""
    ref = data.manifest.get("run_dir")
    if not ref:
        return None
    path = Path(ref) if Path(ref).is_absolute() else Path(data_dir) / ref
    return path if (path / "run.sqlite").is_file() else None


def scored_from_store(store: RunStore, cfg: CurateConfig) -> list[Scored]:
    rows = store.judgments(judge=cfg.selector, source=cfg.source)
    if cfg.split is not None:
        ids = {p.id for p in store.prompts(split=cfg.split)}
        rows = [r for r in rows if r.prompt_id in ids]
    if not rows:
        raise UnigapError(
            f"no judgments by {cfg.selector!r} on source {cfg.source!r} in this run; "
            f"judges present: {', '.join(store.judges()) or 'none'}"
        )
    return [Scored(r.candidate_id, r.prompt_id, r.idx, r.verdict, r.prob) for r in rows]


def calibration_labels(store: RunStore, cfg: CurateConfig) -> dict[int, int] | None:
    """candidate id -> the calibration judge's verdict (None without `calibrate`)."""
    if cfg.calibrate is None:
        return None
    rows = store.judgments(judge=cfg.calibrate.judge, source=cfg.source)
    return {r.candidate_id: int(r.verdict) for r in rows if r.verdict is not None}


def _write(rows: list[dict], path: Path, image_cols: tuple[str, ...]) -> None:
    from datasets import Dataset
    from datasets import Image as ImageFeature
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()  # one tiny bar per file is noise next to the run's own progress
    ds = Dataset.from_list(rows) if rows else Dataset.from_dict({})
    for col in image_cols:
        if rows:
            ds = ds.cast_column(col, ImageFeature())
    tmp = path.with_name(path.name + ".tmp")
    ds.to_parquet(str(tmp))
    tmp.replace(path)  # atomic: a killed curate never leaves a half-written file under the final name
    point("file", str(path))


def sft_rows(store: RunStore, cur: Curation, prompts: dict[str, Prompt]) -> list[dict]:
    rows = []
    for c in cur.sft:
        cand, p = store.candidate(c.candidate_id), prompts[c.prompt_id]
        rows.append(
            {
                "prompt": p.text,
                "image": {"bytes": encode_png(store.load_image(cand.png))},
                "tokens": cand.tokens.tolist(),
                "prompt_id": p.id,
                "subtask": p.subtask,
                "band": p.band,
                "candidate_id": cand.id,
                "seed": cand.seed,
            }
        )
    return rows


def dpo_rows(store: RunStore, cur: Curation, prompts: dict[str, Prompt]) -> list[dict]:
    rows = []
    for ch, rj in cur.pairs:
        a, b, p = store.candidate(ch.candidate_id), store.candidate(rj.candidate_id), prompts[ch.prompt_id]
        rows.append(
            {
                "prompt": p.text,
                "chosen": {"bytes": encode_png(store.load_image(a.png))},
                "rejected": {"bytes": encode_png(store.load_image(b.png))},
                "chosen_tokens": a.tokens.tolist(),
                "rejected_tokens": b.tokens.tolist(),
                "prompt_id": p.id,
                "subtask": p.subtask,
                "band": p.band,
                "chosen_id": a.id,
                "rejected_id": b.id,
                "chosen_prob": ch.prob,
                "rejected_prob": rj.prob,
            }
        )
    return rows


def discard_rows(cur: Curation, prompts: dict[str, Prompt]) -> list[dict]:
    return [
        {
            "prompt": prompts[i].text,
            "prompt_id": i,
            "subtask": prompts[i].subtask,
            "band": prompts[i].band,
            "split": prompts[i].split,
            "suite": prompts[i].suite,
            "spec": json.dumps(prompts[i].spec),
        }
        for i in cur.discard
    ]


def write_curation(run_dir: str | Path, out: str | Path, cfg: CurateConfig, allow_partial: bool = False) -> dict:
    """Curate a run's candidates into DATA_DIR; returns the manifest (with counts per subtask).

    Refuses a run whose audit did not finish (allow_partial: curates what is there and says so in the
    manifest, which `improve` then refuses without its own --allow-partial). Everything is read and
    checked (every image against its content hash) before the first file is written; the manifest
    is written last, so a killed curate leaves data that `improve` refuses until curate is rerun.
    """
    from unigap.store.complete import require_finished_audit

    out = Path(out)
    with RunStore.open(run_dir, create=False) as store:
        gap = require_finished_audit(store, Path(run_dir), cfg.source, allow_partial, "curate")
        prompts = {p.id: p for p in store.prompts(split=cfg.split)}
        cur = curate(list(prompts.values()), scored_from_store(store, cfg), cfg, calibration_labels(store, cfg))
        rows = {"sft": sft_rows(store, cur, prompts), "dpo": dpo_rows(store, cur, prompts)}
        provenance = store.get_meta("provenance") or {}
        config = store.config() or {}
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)  # a rerun over an older curation: incomplete until the end
    _write(rows["sft"], out / "sft.parquet", ("image",))
    _write(rows["dpo"], out / "dpo.parquet", ("chosen", "rejected"))
    _write(discard_rows(cur, prompts), out / "discard.parquet", ())
    write_prompts(out / PROMPTS, prompts.values())
    # relative to the data dir, so a run dir moved or copied with its data still finds its store
    manifest = {
        "curate": cfg.model_dump(),
        "run_dir": os.path.relpath(Path(run_dir).resolve(), out.resolve()),
        "counts": cur.counts,
        "totals": {"sft": len(cur.sft), "pairs": len(cur.pairs), "discard": len(cur.discard)},
        "thresholds": cur.thresholds,
        "held_out": len(cur.held_out),
        "model": config.get("model"),
        "fingerprint": provenance.get("model_fingerprint"),
        "splits": sorted({p.split for p in prompts.values()}),
        "files": {f: sha256_file(out / f) for f in DATA_FILES},
    }
    if gap:
        manifest["partial"] = gap
    write_json(out / MANIFEST, manifest)  # last: data without a manifest is refused by improve (rerun curate)
    return manifest


@dataclass
class CuratedData:
    manifest: dict
    sft: list[dict]
    pairs: list[dict]
    discard: list[dict]


def check_files(data_dir: Path, manifest: dict) -> None:
    """Each data file must be the one curate wrote (manifest["files"]: sha256; older manifests lack it)."""
    for name, want in (manifest.get("files") or {}).items():
        if sha256_file(data_dir / name) != want:
            raise DataError(
                f"{data_dir / name}: not the file `unigap curate` wrote (its sha256 differs from the "
                f"manifest's): it was replaced or edited. Rerun `unigap curate RUN_DIR --out {data_dir}`"
            )


def read_parquet_rows(path: Path, columns: list[str]) -> list[dict]:
    import pyarrow.parquet as pq

    if not path.exists():
        return []
    try:
        table = pq.read_table(path)
    except Exception as err:  # noqa: BLE001 - pyarrow raises several types for a damaged file
        raise DataError(
            f"{path}: not a readable parquet file ({type(err).__name__}: {err}); rerun "
            f"`unigap curate RUN_DIR --out {path.parent}`"
        ) from None
    cols = [c for c in columns if c in table.column_names]
    return table.select(cols).to_pylist()


def load_curated(data_dir: str | Path) -> CuratedData:
    """The curated data of DATA_DIR; DataError naming what is missing or changed (each parquet file is checked
    against the sha256 its manifest recorded), and the command that rewrites it."""
    data_dir = Path(data_dir)
    if not (data_dir / MANIFEST).exists():
        raise DataError(f"{data_dir}: no {MANIFEST}; produce it with `unigap curate RUN_DIR --out {data_dir}`")
    missing = [f for f in DATA_FILES if not (data_dir / f).is_file()]
    if missing:
        raise DataError(
            f"{data_dir}: incomplete curated data, missing {', '.join(missing)}; "
            f"rerun `unigap curate RUN_DIR --out {data_dir}`"
        )
    manifest = read_json(data_dir / MANIFEST, f"rerun `unigap curate RUN_DIR --out {data_dir}`")
    if not isinstance(manifest, dict):
        raise DataError(
            f"{data_dir / MANIFEST}: not a curation manifest; rerun `unigap curate RUN_DIR --out {data_dir}`"
        )
    check_files(data_dir, manifest)
    keys = ["prompt", "prompt_id", "subtask", "band"]
    return CuratedData(
        manifest,
        read_parquet_rows(data_dir / "sft.parquet", keys + ["tokens"]),
        read_parquet_rows(data_dir / "dpo.parquet", keys + ["chosen_tokens", "rejected_tokens"]),
        read_parquet_rows(data_dir / "discard.parquet", keys + ["split", "suite", "spec"]),
    )
