"""Model backends behind one protocol (`UnifiedModel`), selected by short name (`model.name: tiny`)."""

from unigap.models.base import (
    MODELS,
    Generation,
    JudgeMode,
    ModelConfig,
    SamplingConfig,
    SelfJudgeConfig,
    UnifiedModel,
    load_model,
)

__all__ = [
    "MODELS",
    "Generation",
    "JudgeMode",
    "ModelConfig",
    "SamplingConfig",
    "SelfJudgeConfig",
    "UnifiedModel",
    "load_model",
]
