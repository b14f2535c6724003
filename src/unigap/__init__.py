"""unigap: the generation-understanding gap of unified multimodal models.

Audit a model's own images with its own understanding branch, curate the verdicts into
SFT/DPO data, train on them, and analyse what changed (Han et al., arXiv 2507.16663).
"""

__version__ = "0.1.0"
