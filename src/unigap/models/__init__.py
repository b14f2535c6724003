"""Model backends behind one contract (`UnifiedModel`, `OptionalHooks`), selected by short name (`model.name: tiny`)."""

from unigap.models.base import (
    MODELS,
    Generation,
    JudgeMode,
    ModelConfig,
    OptionalHooks,
    SamplingConfig,
    SelfJudgeConfig,
    UnifiedModel,
    load_model,
    supports,
)

__all__ = [
    "MODELS",
    "Generation",
    "JudgeMode",
    "ModelConfig",
    "OptionalHooks",
    "SamplingConfig",
    "SelfJudgeConfig",
    "UnifiedModel",
    "load_model",
    "supports",
]
