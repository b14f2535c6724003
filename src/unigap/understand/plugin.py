"""lmms-eval's `lmms_eval.models` entry point (pyproject.toml) -> the `unigap` model.

lmms-eval 0.7.3 builds its model registry at import time from its built-in table, the deprecated
LMMS_EVAL_PLUGINS variable and the entry points of group `lmms_eval.models`, whose payload may be
a callable returning a ModelManifest. Only the manifest is built here: the adapter (and the
backend's heavy imports) load when `--model unigap` is chosen.
"""

from __future__ import annotations

ADAPTER = "unigap.understand.adapter.UnigapLMM"


def manifest():  # -> lmms_eval.models.registry_v2.ModelManifest
    from lmms_eval.models.registry_v2 import ModelManifest

    return ModelManifest(model_id="unigap", simple_class_path=ADAPTER)
