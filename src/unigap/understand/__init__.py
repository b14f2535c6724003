"""Understanding benchmarks through lmms-eval (`unigap[eval]`).

- `adapter.UnigapLMM`: the lmms-eval model `unigap` (`lmms-eval --model unigap --model_args
  backend=janus,path=...`), registered through the `lmms_eval.models` entry point (plugin.py).
- `run.evaluate_backend`: run lmms-eval tasks on a unigap backend, scores + provenance as JSON.
- `shapeworld`: ShapeWorld plain questions as local lmms-eval tasks (parquet built at run time).

Importing this package imports nothing from lmms-eval.
"""
