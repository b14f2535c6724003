"""The adapter on a tiny random Janus (transformers' native Janus, built offline)."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def janus(tmp_path_factory):
    from unigap.models.base import ModelConfig
    from unigap.models.janus.backend import load_janus
    from unigap.models.janus.synthetic import build_synthetic

    path = build_synthetic("tiny", seed=0, init_std=0.3).save(tmp_path_factory.mktemp("janus"))
    return load_janus(ModelConfig(name="janus", path=str(path), batch_size=4))


def test_janus_generate_until_through_its_chat_template(lmms, janus, toy_tasks, tmp_path):
    from unigap.models.base import ModelConfig
    from unigap.understand.run import evaluate_backend

    result = evaluate_backend(
        ModelConfig(name="janus"),
        ["toy_yesno"],
        4,
        tmp_path,
        model=janus,
        options={"include_defaults": False, "include": [toy_tasks], "batch_size": 2},
    )
    assert result["n"]["toy_yesno"]["effective"] == 4 and result["failures"]["count"] == 0
    assert result["backend_calls"]["generate_until"] == 3  # 32 px docs 0, 1, 3 (batch 2: 2 + 1) and 24 px doc 2
    assert result["provenance"]["fingerprint"]["backend"] == "janus"


def test_janus_multiple_choice_is_scored_with_its_answer_logprobs(lmms, janus, toy_tasks, tmp_path, monkeypatch):
    from unigap.models.base import ModelConfig
    from unigap.understand.run import evaluate_backend

    calls = []
    real = janus.answer_logprobs
    monkeypatch.setattr(janus, "answer_logprobs", lambda *a: calls.append(len(a[2])) or real(*a))
    result = evaluate_backend(
        ModelConfig(name="janus"),
        ["toy_mc"],
        2,
        tmp_path,
        model=janus,
        options={"include_defaults": False, "include": [toy_tasks]},
    )
    assert result["n"]["toy_mc"]["effective"] == 2 and result["failures"]["count"] == 0
    assert calls and sum(calls) >= 4  # every choice of both documents was scored by the backend
