"""The Janus backend behind the UnifiedModel protocol, on a tiny random Janus saved like a hub checkpoint."""

from __future__ import annotations

import json

import pytest
import torch

from unigap.errors import CheckpointError, ConfigError, UnigapError
from unigap.models.base import MODELS, ModelConfig, SamplingConfig, SelfJudgeConfig, UnifiedModel, load_model
from unigap.models.janus.backend import JanusBackend
from unigap.models.janus.loading import resolve_dtype
from unigap.models.janus.text import score_ids, understanding_inputs
from unigap.verdict import SYSTEM_TEXT, question


def test_registered_and_satisfies_the_protocol(backend, janus_dir):
    assert "janus" in MODELS.names()
    assert isinstance(backend, UnifiedModel)
    loaded = load_model(ModelConfig(name="janus", path=str(janus_dir)))
    assert isinstance(loaded, JanusBackend) and loaded.decoder.dtype == torch.float32  # auto on CPU


def test_dtype_resolution():
    assert resolve_dtype("auto", torch.device("cuda")) == torch.bfloat16
    assert resolve_dtype("auto", torch.device("cpu")) == torch.float32
    assert resolve_dtype("bf16", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(ConfigError, match="fp64"):
        resolve_dtype("fp64", torch.device("cpu"))


def test_a_non_janus_checkpoint_is_refused_naming_its_model_type(tmp_path):
    from transformers import LlamaConfig

    LlamaConfig(vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=2).save_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match="model_type 'llama'"):
        load_model(ModelConfig(name="janus", path=str(tmp_path)))
    with pytest.raises(UnigapError, match="no readable model config"):
        load_model(ModelConfig(name="janus", path=str(tmp_path / "missing")))


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("num_image_tokens", 9, "num_image_tokens = 9, but the model config has .*num_image_tokens = 16"),
        ("size", {"height": 32, "width": 32}, "size = 32, but the model config has .*image_size = 16"),
    ],
)
def test_processor_config_mismatch_names_both_values(janus_dir, tmp_path, key, value, message):
    import shutil

    from unigap.models.common import transformers_major

    if key == "num_image_tokens" and transformers_major() < 5:
        pytest.skip("transformers 4.x does not store a processor's num_image_tokens")

    shutil.copytree(janus_dir, tmp_path / "ckpt")
    _edit_processor(tmp_path / "ckpt", key, value)
    with pytest.raises(CheckpointError, match=message):
        load_model(ModelConfig(name="janus", path=str(tmp_path / "ckpt")))


def test_config_with_inconsistent_image_tokens_names_both_values(janus_dir, tmp_path):
    import shutil

    shutil.copytree(janus_dir, tmp_path / "ckpt")
    config = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    config["vision_config"]["num_image_tokens"] = 25
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        CheckpointError,
        match=r"num_image_tokens = 25, but \(image_size / patch_size\)\^2 = "
        r"\(16 / 4\)\^2 = 16",
    ):
        load_model(ModelConfig(name="janus", path=str(tmp_path / "ckpt")))


def _edit_processor(path, key, value):
    """transformers 5.x keeps processor and image-processor settings in processor_config.json;
    4.x splits them into processor_config.json and preprocessor_config.json."""
    nested = path / "processor_config.json"
    data = json.loads(nested.read_text())
    if key == "size" and "image_processor" in data:
        data["image_processor"][key] = value
    elif key == "size":
        pre = json.loads((path / "preprocessor_config.json").read_text())
        pre[key] = value
        (path / "preprocessor_config.json").write_text(json.dumps(pre))
    else:
        data[key] = value
    nested.write_text(json.dumps(data))


def test_generate_gives_tokens_and_uint8_images_deterministically(backend, prompts):
    g = backend.generate(prompts, [5, 6, 7], SamplingConfig())
    assert g.tokens.shape == (3, 16) and g.tokens.dtype == torch.long
    assert int(g.tokens.max()) < 64 and int(g.tokens.min()) >= 0
    assert g.images.shape == (3, 16, 16, 3) and g.images.dtype == torch.uint8
    assert torch.equal(backend.generate(prompts, [5, 6, 7], SamplingConfig()).tokens, g.tokens)
    assert torch.equal(backend.decode(g.tokens), g.images)
    assert backend.generate([], [], SamplingConfig()).tokens.shape == (0, 16)


def test_judge_input_uses_chat_template_and_system_prompt_once(backend):
    images = torch.zeros(1, 16, 16, 3, dtype=torch.uint8)
    inputs = understanding_inputs(backend.processor, images, [question("a red cat")])
    text = backend.processor.tokenizer.decode(inputs["input_ids"][0])
    assert text.count("helpful language and vision assistant") == 1
    assert "<|User|> :" in text and text.rstrip().endswith("<|Assistant|> :")
    assert text.count("<image_placeholder>") == 16 and SYSTEM_TEXT.split()[0] in text
    assert backend.processor.use_default_system_prompt  # restored after the call


def test_judge_parse_mode_keeps_raw_and_marks_unparsed(backend, prompts, monkeypatch):
    images = backend.generate(prompts, [1, 2, 3], SamplingConfig()).images
    judged = backend.judge(images, prompts, SelfJudgeConfig(mode="parse", max_new_tokens=6))
    assert len(judged) == 3 and all(j.raw for j in judged)
    assert all((j.status == "unparsed") == (j.verdict is None) for j in judged)
    monkeypatch.setattr(backend, "answer", lambda im, q, n: ["The score is 1.", "No, it does not.", "maybe"])
    verdicts = [(j.verdict, j.status) for j in backend.judge(images, prompts, SelfJudgeConfig())]
    assert verdicts == [(1, "ok"), (0, "ok"), (None, "unparsed")]


def test_answer_is_batch_independent(backend, prompts):
    images = backend.generate(prompts, [1, 2, 3], SamplingConfig()).images
    questions = ["what is this ?", question(prompts[1]), "is it a cat ?"]
    together = backend.answer(images, questions, max_new_tokens=5)
    assert backend.answer(images[1:2], questions[1:2], max_new_tokens=5) == together[1:2]


def test_judge_prob_mode_reads_one_vs_zero_after_the_answer_prefix(backend, prompts):
    images = backend.generate(prompts, [1, 2, 3], SamplingConfig()).images
    judged = backend.judge(images, prompts, SelfJudgeConfig(mode="prob", threshold=0.5))
    ids = score_ids(backend.processor.tokenizer)
    tok = backend.processor.tokenizer
    assert tok.convert_ids_to_tokens([ids.one, ids.zero]) == ["1", "0"] and ids.extra == ()
    inputs = understanding_inputs(backend.processor, images[:1], [question(prompts[0])], " The score is")
    assert tok.decode(inputs["input_ids"][0]).endswith("<|Assistant|> : The score is")
    with torch.no_grad():
        logits = backend.model(**inputs).logits[0, -1]
    expected = logits[[ids.one, ids.zero]].softmax(-1)[0].item()
    assert judged[0].prob == pytest.approx(expected, abs=1e-5)
    assert all(j.verdict == int(j.prob > 0.5) and j.status == "ok" for j in judged)
    strict = backend.judge(images, prompts, SelfJudgeConfig(mode="prob", threshold=1.0))
    assert all(j.verdict == 0 for j in strict)


def test_answer_logprobs_are_the_chained_next_token_logprobs_after_the_assistant_turn(backend, prompts):
    images = backend.generate(prompts[:2], [1, 2], SamplingConfig()).images
    questions, answers = [question(p) for p in prompts[:2]], ["The score is 1.", "No"]
    lp = backend.answer_logprobs(images, questions, answers)
    assert lp.shape == (2,) and torch.isfinite(lp).all() and bool((lp < 0).all())
    tok = backend.processor.tokenizer
    for i, (q, a) in enumerate(zip(questions, answers)):  # one forward per answer token, logits at the end
        ids = tok(" " + a, add_special_tokens=False)["input_ids"]
        total = 0.0
        for k, t in enumerate(ids):
            inputs = understanding_inputs(backend.processor, images[i : i + 1], [q], extra_ids=ids[:k])
            with torch.no_grad():
                total += backend.model(**inputs).logits[0, -1].float().log_softmax(-1)[t].item()
        assert lp[i].item() == pytest.approx(total, abs=1e-3)
    lp.sum().backward()  # differentiable: improve.und_weight trains through it
    grads = [p.grad for p in backend.components()["llm"] if p.grad is not None]
    assert grads and float(sum(g.abs().sum() for g in grads)) > 0


def test_image_logprobs_are_differentiable_and_left_padding_safe(backend, prompts):
    tokens = backend.generate(prompts, [1, 2, 3], SamplingConfig()).tokens
    together = backend.image_logprobs(prompts, tokens)
    assert together.shape == (3,) and bool((together < 0).all())
    alone = torch.stack([backend.image_logprobs([p], tokens[i : i + 1])[0] for i, p in enumerate(prompts)])
    torch.testing.assert_close(together, alone, atol=1e-4, rtol=0)
    together.sum().backward()
    head = backend.model.model.generation_head.proj_out.weight
    assert head.grad is not None and float(head.grad.abs().sum()) > 0


def test_components_partition_the_parameters(backend):
    groups = backend.components()
    assert set(groups) == {"llm", "gen_aligner", "gen_head", "gen_embed", "vision", "vq"}
    ids = [id(p) for ps in groups.values() for p in ps]
    assert len(ids) == len(set(ids))
    named = {id(p): n for n, p in backend.module().named_parameters()}
    left = {named[i] for i in set(named) - set(ids)}
    assert left == {"lm_head.weight"}  # the text head is not part of any generation/trunk group


def test_fingerprint_is_stable_and_tracks_the_processor(backend, janus_dir):
    fp = backend.fingerprint()
    assert fp["backend"] == "janus" and fp["num_image_tokens"] == 16 and fp["codebook_size"] == 64
    assert fp["path"] == str(janus_dir) and len(fp["processor_sha256"]) == 64
    json.dumps(fp)
    backend.processor.image_processor.image_mean = [0.1, 0.2, 0.3]
    assert backend.fingerprint()["processor_sha256"] != fp["processor_sha256"]


def test_save_reloads_with_transformers(backend, tmp_path, prompts):
    from transformers import JanusForConditionalGeneration, JanusProcessor

    backend.save(tmp_path / "out")
    assert isinstance(JanusForConditionalGeneration.from_pretrained(tmp_path / "out"), JanusForConditionalGeneration)
    assert isinstance(JanusProcessor.from_pretrained(tmp_path / "out"), JanusProcessor)
    clone = load_model(ModelConfig(name="janus", path=str(tmp_path / "out")))
    assert clone.fingerprint()["processor_sha256"] == backend.fingerprint()["processor_sha256"]
    a = backend.generate(prompts, [4, 5, 6], SamplingConfig()).tokens
    assert torch.equal(clone.generate(prompts, [4, 5, 6], SamplingConfig()).tokens, a)


class _CharTokenizer:
    """Splits into characters: " 1" is a space token then a digit token (digit-splitting BPEs)."""

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [ord(c) for c in text]}


def test_score_ids_feed_shared_tokens_and_compare_the_digit():
    ids = score_ids(_CharTokenizer())
    assert (ids.one, ids.zero) == (ord("1"), ord("0"))
    assert ids.prefix == " The score is" and ids.extra == (ord(" "),)
