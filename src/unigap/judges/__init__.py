"""External judges (oracle, VLMs, HTTP endpoints, humans) behind one protocol."""

from unigap.judges.base import JUDGES, ExternalJudge, JudgeConfig, load_judge

__all__ = ["JUDGES", "ExternalJudge", "JudgeConfig", "load_judge"]
