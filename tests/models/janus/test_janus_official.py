"""The original deepseek-ai Janus format, converted, against outputs of the official `janus` package.

tests/fixtures/official/janus was written by tools/official/janus/make_fixtures.py with the official
classes (deepseek-ai/Janus @ 1daa72f, see fixture.json): a tiny random MultiModalityCausalLM saved in
the original format (sharded .bin, bf16) and what the official code computes from it. Tolerances: fp32
on both sides, but not the same op order (transformers' separate q/k/v projections against the official
fused qkv; the official generate decodes one token at a time with a KV cache, the teacher-forced check here
runs the whole sequence at once), so logits get 1e-4 and probabilities 1e-5; token ids, prompt ids and
greedy choices must be equal. Measured differences are in the docstrings.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from unigap.models.base import ModelConfig, SamplingConfig
from unigap.models.janus import decode as D
from unigap.models.janus.text import generation_rows, model_images

FIXTURE = Path(__file__).parents[2] / "fixtures" / "official" / "janus"
LOGIT_ATOL, PROB_ATOL = 1e-4, 1e-5


@pytest.fixture(scope="module")
def official():
    from safetensors.torch import load_file

    return load_file(str(FIXTURE / "outputs.safetensors")), json.loads((FIXTURE / "fixture.json").read_text())


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        root = tmp_path_factory.mktemp("unigap_cache")
        mp.setenv("UNIGAP_CACHE", str(root))
        yield root


@pytest.fixture(scope="module")
def converted(cache):
    """The backend on the original-format fixture checkpoint, through unigap's loader (converts once)."""
    from unigap.models.janus.backend import load_janus

    return load_janus(ModelConfig(name="janus", path=str(FIXTURE / "checkpoint"), batch_size=4))


def images(out) -> list[Image.Image]:
    return [Image.fromarray(out[f"preprocess.image_{i}"].numpy()) for i in range(4)]


def test_fixture_comes_from_the_pinned_official_commit(official):
    _, meta = official
    assert meta["janus_commit"] == "1daa72fa409002d40931bd7b36a9280362469ead"
    assert meta["checkpoint_files"] == sorted(p.name for p in (FIXTURE / "checkpoint").iterdir())
    assert json.loads((FIXTURE / "checkpoint" / "config.json").read_text())["model_type"] == "multi_modality"


def test_image_preprocessing_matches_the_official_processor(converted, official):
    """Exact (0.0) for all four images. Without our pre-resize, transformers' processor rounds where the
    official one floors: the 31x29 image then differs by 0.77."""
    out, _ = official
    processor = converted.processor
    for i, img in enumerate(images(out)):
        tensor = torch.from_numpy(np.array(img))[None]  # (1, H, W, 3)
        pixels = processor.image_processor(model_images(processor, tensor), return_tensors="pt")["pixel_values"]
        torch.testing.assert_close(pixels[0], out["preprocess.pixel_values"][i], atol=1e-6, rtol=0)


def test_understanding_prompt_ids_match_the_official_chat_processor(converted, official):
    """VLChatProcessor's deepseek format with its system prompt == our chat template + the processor's."""
    out, meta = official
    question = meta["understanding"]["conversation"][0]["content"].split("\n", 1)[1]
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
    text = converted.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    enc = converted.processor(text=[text], images=images(out)[meta["understanding"]["image"]], return_tensors="pt")
    assert torch.equal(enc["input_ids"], out["und.input_ids"])
    assert torch.equal(enc["attention_mask"], out["und.attention_mask"])
    torch.testing.assert_close(enc["pixel_values"], out["und.pixel_values"][:, 0], atol=1e-6, rtol=0)


@torch.no_grad()
def test_understanding_logits_and_greedy_answer_match_the_official_model(converted, official):
    """Measured: max |logit difference| 0.0 (the same fp32 ops); the 8 greedy tokens are equal."""
    out, _ = official
    model, tok = converted.model, converted.processor.tokenizer
    inputs = dict(
        input_ids=out["und.input_ids"],
        attention_mask=out["und.attention_mask"],
        pixel_values=out["und.pixel_values"][:, 0],
    )
    logits = model(**inputs).logits[:, -out["und.logits"].shape[1] :]
    torch.testing.assert_close(logits, out["und.logits"], atol=LOGIT_ATOL, rtol=0)
    greedy = model.generate(
        **inputs,
        generation_mode="text",
        max_new_tokens=8,
        do_sample=False,
        pad_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    assert greedy[0, inputs["input_ids"].shape[1] :].tolist() == out["und.greedy_ids"][0].tolist()


def test_generation_prompt_and_null_prompt_match_the_official_script(converted, official):
    """generation_inference.py: sft format without system prompt + <begin_of_image>; the CFG row keeps
    the first and last token and pads the rest."""
    out, meta = official
    rows = generation_rows(converted.processor, [meta["generation"]["conversation"][0]["content"]])
    assert rows == [out["gen.input_ids"].tolist()]
    batch = D.build_prompt_batch(rows, converted.special, guided=True, round_to=1)
    official_null = out["gen.input_ids"].clone()
    official_null[1:-1] = meta["generation"]["pad_id"]
    assert torch.equal(batch.ids[1], official_null)


@torch.no_grad()
def head_logits(backend, prompt: str, codes: torch.Tensor) -> torch.Tensor:
    """Teacher-forced gen_head logits (2B, M, V), rows cond/uncond interleaved as the official loop has them."""
    rows = generation_rows(backend.processor, [prompt] * codes.shape[0])
    batch = D.build_prompt_batch(rows, backend.special, guided=True, round_to=1)  # (2B, P): B cond, then B uncond
    model, P = backend.model, batch.ids.shape[1]
    emb = torch.cat(
        [
            model.get_input_embeddings()(batch.ids),
            model.prepare_embeddings_for_image_generation(torch.cat([codes, codes])),
        ],
        1,
    )
    h = model.model.language_model(inputs_embeds=emb, use_cache=False).last_hidden_state
    logits = model.model.generation_head(h[:, P - 1 : -1])  # (2B, M, V)
    b = codes.shape[0]
    return torch.stack([logits[:b], logits[b:]], 1).flatten(0, 1)  # cond0, uncond0, cond1, ...


def test_cfg_logits_on_fixed_codes_match_the_official_generate(converted, official):
    """The official generate() with fixed codes: gen_head logits of all 4 rows and the CFG probabilities.
    Measured: max |logit difference| 1.3e-6 (logits up to 2.7), max |prob difference| 1.3e-6."""
    out, meta = official
    g = meta["generation"]
    codes = out["gen.forced.codes"]
    logits = head_logits(converted, g["conversation"][0]["content"], codes)
    torch.testing.assert_close(logits, out["gen.forced.head_logits"], atol=LOGIT_ATOL, rtol=0)
    cond, uncond = logits[0::2].flatten(0, 1), logits[1::2].flatten(0, 1)  # (B * M, V)
    scores = D.warp(D.guide(torch.cat([cond, uncond]), cond.shape[0], g["cfg_weight"]), g["temperature"], 0)
    probs = scores.softmax(-1).view_as(out["gen.forced.probs"])
    torch.testing.assert_close(probs, out["gen.forced.probs"], atol=PROB_ATOL, rtol=0)
    ours = converted.image_token_logprobs([g["conversation"][0]["content"]] * 2, codes)  # (2, M), no CFG
    want = out["gen.forced.head_logits"][0::2].log_softmax(-1).gather(-1, codes[..., None]).squeeze(-1)
    torch.testing.assert_close(ours.detach(), want, atol=LOGIT_ATOL, rtol=0)


def test_greedy_cfg_decode_gives_the_official_tokens(converted, official):
    """Our decode loop (static cache, CFG 5, argmax) against the official loop with argmax for multinomial."""
    out, meta = official
    g = meta["generation"]
    result = converted.generate_tokens(
        [g["conversation"][0]["content"]],
        [0],
        SamplingConfig.model_construct(cfg_scale=g["cfg_weight"], temperature=0.0),
    )
    assert result.tokens.tolist() == out["gen.greedy.codes"].tolist()
    assert len(set(result.tokens[0].tolist())) >= 3  # greedy CFG on a random model repeats codes, yet not only one


@torch.no_grad()
def test_vq_decode_matches_the_official_vq(converted, official):
    """decode_code pixels: measured max difference 0.0. uint8 images as generation_inference.py maps them
    (clip((x + 1) / 2 * 255), truncated) against ours ((x + 1) * 127.5, clamped, truncated): measured equal;
    1 is allowed where a value could sit on an integer boundary."""
    out, _ = official
    pixels = converted.model.decode_image_tokens(out["vq.codes"]).permute(0, 3, 1, 2)  # (B, 3, H, W)
    torch.testing.assert_close(pixels, out["vq.pixels"], atol=1e-5, rtol=0)
    for run in ("forced", "greedy"):
        ours = converted.decode(out[f"gen.{run}.codes"])
        assert ours.shape == out[f"gen.{run}.images"].shape
        assert (ours.int() - out[f"gen.{run}.images"].int()).abs().max() <= 1
