"""Exporters: a run store's candidates in the folder layouts the official evaluators read, or as a
HF `datasets` dataset. They read the run store (RUN_DIR/run.sqlite + images/), never a prompt suite.

- geneval.py       GenEval's evaluate_images.py layout
- t2i_compbench.py  T2I-CompBench's BLIP-VQA / CLIPScore / UniDet / 3-in-1 layout
- hf.py            a `datasets` dataset (save_to_disk), one verdict column per judge
"""

from unigap.export.common import ExportResult
from unigap.export.geneval import export_geneval
from unigap.export.hf import export_hf, verdict_column
from unigap.export.t2i_compbench import export_t2i_compbench

__all__ = ["ExportResult", "export_geneval", "export_hf", "export_t2i_compbench", "verdict_column"]
