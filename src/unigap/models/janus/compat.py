"""The transformers classes a Janus checkpoint needs, as the installed transformers names them (4.x or 5.x).

Beside loading.py and convert.py, which both use them (the converter writes the processor files the
loader reads back), so that neither imports the other for them.
"""

from __future__ import annotations

from typing import Any

from unigap.models.common import transformers_major


def fast_tokenizer_class() -> Any:
    """4.x JanusProcessor insists on a LlamaTokenizerFast; 5.x's generic fast tokenizer keeps a tokenizer.json's
    pipeline as it is (its LlamaTokenizer may rebuild one around the vocabulary)."""
    import transformers

    return transformers.LlamaTokenizerFast if transformers_major() < 5 else transformers.PreTrainedTokenizerFast


def image_processor_class() -> Any:
    try:  # transformers >= 5 without torchvision: the PIL processor
        from transformers import JanusImageProcessorPil as ImageProcessor
    except ImportError:  # 4.x
        from transformers import JanusImageProcessor as ImageProcessor
    return ImageProcessor
