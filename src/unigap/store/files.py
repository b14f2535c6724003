"""The old home of `unigap.files`, kept while training/** (unigap.training.commit, improve, guard) still
imports it from here; the trainer branch's merge moves those imports and deletes this module."""

from unigap.files import read_json, sync_dir, write_atomic, write_json, write_text  # noqa: F401

__all__ = ["read_json", "sync_dir", "write_atomic", "write_json", "write_text"]
