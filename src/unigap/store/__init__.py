"""The run store: one SQLite file per run dir plus content-hashed PNGs (see runstore.py)."""

from unigap.store.merge import merge_parts, part_paths
from unigap.store.provenance import provenance
from unigap.store.rows import Candidate, CandidateIn, JudgmentRow
from unigap.store.runstore import DB_NAME, RunStore, part_path
from unigap.store.schema import MIGRATIONS, schema_version
from unigap.utils import sha256_file

__all__ = [
    "Candidate",
    "CandidateIn",
    "DB_NAME",
    "JudgmentRow",
    "MIGRATIONS",
    "RunStore",
    "merge_parts",
    "part_path",
    "part_paths",
    "provenance",
    "schema_version",
    "sha256_file",
]
