"""The backend contract (unigap.models.base): docs/backends.md's tables equal the code's declarations,
every built-in backend fulfils it with the declared signatures, and the base class's defaults work."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest
import torch

from unigap.errors import UnigapError
from unigap.models.base import (
    HOOKS,
    Generation,
    ModelConfig,
    OptionalHooks,
    SamplingConfig,
    SelfJudgeConfig,
    UnifiedModel,
    contract,
    generation_fields,
    load_model,
    missing,
    supports,
)
from unigap.verdict import question

DOC = Path(__file__).resolve().parents[2] / "docs" / "backends.md"
ROW = re.compile(r"^\|\s*`(.+?)`\s*\|\s*([a-z ]+?)\s*\|(.*)\|\s*$")
BACKENDS = {
    "tiny": "unigap.models.tiny.backend:TinyBackend",
    "janus": "unigap.models.janus.backend:JanusBackend",
    "emu3": "unigap.models.emu3.backend:Emu3Backend",
    "showo": "unigap.models.showo.backend:ShowoBackend",
    "served": "unigap.models.served.backend:ServedBackend",
}


def doc_table(ref: str) -> list[tuple[str, str, str]]:
    """(member, needed, what) rows of the table after `<!-- contract: ref -->`, `\\|` unescaped."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"<!-- contract: {ref} -->")
    rows = []
    for line in lines[start + 1 :]:
        if not line.startswith("|"):
            break
        m = ROW.match(line.replace("\\|", "\x00"))
        if m:
            rows.append(tuple(g.replace("\x00", "|").strip() for g in m.groups()))
    return rows


def expected(members) -> str:
    return "\n".join(f"| `{m.signature}` | {m.need} | ... |" for m in members)


def test_members_table_is_the_contract():
    rows = doc_table("unigap.models.base:UnifiedModel")
    assert [(sig, need) for sig, need, _ in rows] == [(m.signature, m.need) for m in contract()], (
        "docs/backends.md's members table differs from unigap.models.base.contract(); it should read:\n"
        + expected(contract())
    )
    assert all(what for _, _, what in rows)


def test_generation_table_is_the_dataclass():
    rows = doc_table("unigap.models.base:Generation")
    assert [(sig, need) for sig, need, _ in rows] == [(m.signature, m.need) for m in generation_fields()], expected(
        generation_fields()
    )


def test_contract_lists_every_declared_member_once():
    names = [m.name for m in contract()]
    assert len(names) == len(set(names))
    assert {
        "generate",
        "judge",
        "answer",
        "save",
        "image_loss",
        "image_token_logprobs",
        "trainable",
        "understands",
    } <= set(names)
    assert HOOKS == tuple(m.name for m in contract() if m.need == "optional")


def backend_class(name: str) -> type:
    module, attr = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), attr)


def parameters(fn) -> list[inspect.Parameter]:
    return list(inspect.signature(fn).parameters.values())[1:]


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_builtin_backend_fulfils_the_contract(name):
    cls = backend_class(name)
    assert issubclass(cls, UnifiedModel) and cls.name == name
    assert missing(cls) == []
    for m in contract():
        impl = getattr(cls, m.name, None)
        if not callable(impl) or impl is getattr(UnifiedModel, m.name, None):
            continue
        declared = getattr(UnifiedModel, m.name, None) or getattr(OptionalHooks, m.name)
        want, got = parameters(declared), parameters(impl)
        assert [p.name for p in got[: len(want)]] == [p.name for p in want], f"{name}.{m.name}{inspect.signature(impl)}"
        for w, g in zip(want, got):
            if w.default is not inspect.Parameter.empty:
                assert g.default == w.default, f"{name}.{m.name}: {g.name}={g.default!r}, the contract: {w.default!r}"
        assert all(p.default is not inspect.Parameter.empty or p.kind is p.VAR_KEYWORD for p in got[len(want) :])


def test_flags_are_declared():
    assert {n: backend_class(n).trainable for n in BACKENDS} == {
        "tiny": True,
        "janus": True,
        "emu3": True,
        "showo": True,
        "served": False,
    }
    assert all(backend_class(n).understands for n in BACKENDS)


class Bright(UnifiedModel):
    """A minimal subclass: required members and `answer` only (not trainable)."""

    name = "bright"
    num_image_tokens = 0
    trainable = False

    def generate(self, prompts, seeds, sampling):
        images = torch.full((len(prompts), 2, 2, 3), 200, dtype=torch.uint8)
        return Generation(torch.zeros(len(prompts), 0, dtype=torch.long), images)

    def decode(self, tokens):
        raise UnigapError("no tokens")

    def fingerprint(self):
        return {"backend": "bright"}

    def answer(self, images, questions, max_new_tokens=16):
        assert all(q.startswith("Does this image describe") for q in questions)  # the paper's question
        return ["The score is 1." if img.float().mean() > 127 else "perhaps" for img in images]


class Scored(Bright):
    def score_probs(self, images, questions):
        return [0.25, 0.75][: len(images)]

    def prob_answer(self, verdict):
        return "Yes." if verdict else "No."


def images(*levels: int) -> torch.Tensor:
    return torch.stack([torch.full((2, 2, 3), v, dtype=torch.uint8) for v in levels])


def test_shared_judge_parse_and_prob_modes():
    parsed = Bright().judge(images(200, 10), ["a cat", "a dog"], SelfJudgeConfig())
    assert [(j.verdict, j.status, j.raw) for j in parsed] == [
        (1, "ok", "The score is 1."),
        (None, "unparsed", "perhaps"),
    ]
    probs = Scored().judge(images(1, 2), ["a", "b"], SelfJudgeConfig(mode="prob", threshold=0.5))
    assert [(j.verdict, j.prob, j.raw) for j in probs] == [(0, 0.25, "No."), (1, 0.75, "Yes.")]
    with pytest.raises(UnigapError, match="prob needs score_probs.*'bright'"):
        Bright().judge(images(1), ["a"], SelfJudgeConfig(mode="prob"))


def test_defaults_and_hooks():
    model = Scored()
    assert model.weights_sha256() is None and model.prompt_problems(["a"]) == [] and model.default_sampling is None
    assert supports(model, "score_probs") and not supports(Bright(), "score_probs")
    assert not supports(model, "apply_lora") and supports(model, "weights_sha256")
    with pytest.raises(ValueError, match="not an optional backend hook"):
        supports(model, "generate_fast")
    with pytest.raises(UnigapError, match="not trainable"):
        model.module()


def test_incomplete_subclass_is_refused_naming_what_it_lacks():
    class Half(UnifiedModel):
        name = "half"

        def generate(self, prompts, seeds, sampling):
            return Generation(torch.zeros(0, 0), torch.zeros(0, 1, 1, 3))

    with pytest.raises(
        TypeError,
        match=r"decode\(\), fingerprint\(\); answer\(\) \(understands = True\); "
        r"image_logprobs\(\), module\(\), components\(\), save\(\) \(trainable",
    ):
        Half()
    Half.trainable, Half.understands = False, False
    Half.decode = lambda self, tokens: tokens
    Half.fingerprint = lambda self: {}
    assert missing(Half()) == ["num_image_tokens"]


def test_load_model_refuses_an_incomplete_backend(monkeypatch):
    from unigap.models.base import MODELS

    class Duck:  # does not subclass UnifiedModel (a plugin of the older protocol)
        name = "duck"

        def generate(self, prompts, seeds, sampling):
            raise AssertionError

    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))
    MODELS.register("duck")(lambda cfg, options: Duck())
    with pytest.raises(
        UnigapError,
        match=r"model.name: the 'duck' backend \(from unigap\) is incomplete: .*"
        r"num_image_tokens, decode\(\), fingerprint\(\)",
    ):
        load_model(ModelConfig(name="duck"))


def test_tiny_judges_through_the_shared_judge(tiny_ckpt_dir):
    model = load_model(ModelConfig(path=str(tiny_ckpt_dir)))
    assert type(model).judge is UnifiedModel.judge
    texts = ["a red circle", "a blue square"]
    gen = model.generate(texts, [1, 2], SamplingConfig())
    prob = model.judge(gen.images, texts, SelfJudgeConfig(mode="prob", threshold=0.5))
    assert [j.prob for j in prob] == model.score_probs(gen.images, [question(t) for t in texts])
    assert all(j.raw == f"The score is {j.verdict}." and j.verdict == int(j.prob > 0.5) for j in prob)
    parsed = model.judge(gen.images, texts, SelfJudgeConfig(max_new_tokens=4))
    assert [j.raw for j in parsed] == model.answer(gen.images, [question(t) for t in texts], 4)
    assert gen.errors == []
    with pytest.raises(UnigapError, match="saves its live weights only"):
        model.save(Path("/nonexistent"), state_dict={})
