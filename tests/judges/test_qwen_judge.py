"""`QwenJudge` on a tiny random Qwen2.5-VL, saved to disk and loaded through the judge's own
`from_pretrained` path, fully offline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from unigap.judges.base import JUDGES, JudgeConfig, load_judge  # noqa: E402
from unigap.judges.qwen import QwenJudge, chat_text, score_token_ids  # noqa: E402
from unigap.records import Prompt  # noqa: E402
from unigap.verdict import question  # noqa: E402

SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
# Qwen2's pre-tokenizer split: digits stand alone and a space before a digit is its own token.
QWEN_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
CORPUS = [
    "system\nYou are a helpful assistant.",
    "user\nassistant\nThe score is 1. The score is 0. I cannot tell",
    question("a red circle and a blue square"),
    question("two green triangles"),
]


def tiny_tokenizer(qwen_split: bool = True):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=not qwen_split)
    tok.pre_tokenizer = (
        pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN_SPLIT), "isolated"), byte_level])
        if qwen_split
        else byte_level
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")


def tiny_model(tok):
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    ids = tok.convert_tokens_to_ids
    text = dict(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        rope_parameters={"rope_type": "default", "rope_theta": 1e4, "mrope_section": [2, 3, 3]},
        bos_token_id=ids("<|endoftext|>"),
        eos_token_id=ids("<|im_end|>"),
        pad_token_id=ids("<|endoftext|>"),
    )
    vision = dict(
        depth=2,
        hidden_size=32,
        intermediate_size=64,
        num_heads=2,
        patch_size=14,
        spatial_merge_size=2,
        temporal_patch_size=2,
        window_size=56,
        out_hidden_size=64,
        fullatt_block_indexes=[1],
    )
    cfg = Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )
    torch.manual_seed(0)
    return Qwen2_5_VLForConditionalGeneration(cfg).eval()


@pytest.fixture(scope="module")
def qwen_dir(tmp_path_factory):
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    path = tmp_path_factory.mktemp("tiny_qwen")
    tok = tiny_tokenizer()
    tiny_model(tok).save_pretrained(path)
    tok.save_pretrained(path)
    Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=56 * 56).save_pretrained(path)
    return path


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


def data(n: int, size: int = 56) -> tuple[torch.Tensor, list[Prompt]]:
    rng = np.random.default_rng(1)
    images = torch.from_numpy(rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8))
    texts = ["a red circle and a blue square", "two green triangles", "a red circle"]
    return images, [Prompt(f"p{i}", texts[i % 3], "t", "test", "s") for i in range(n)]


@pytest.fixture(scope="module")
def parse_judge(qwen_dir):
    return QwenJudge(str(qwen_dir), device="cpu", dtype="float32", batch_size=3, max_new_tokens=6)


def test_registered_and_loaded_through_registry(qwen_dir):
    assert "qwen2.5-vl" in JUDGES.names()
    judge = load_judge(
        JudgeConfig(name="qwen2.5-vl", options={"path": str(qwen_dir), "device": "cpu", "dtype": "float32"})
    )
    assert isinstance(judge, QwenJudge) and judge.model is None  # loads on first use
    judge.load()
    assert judge.model.dtype == torch.float32 and judge.model.device.type == "cpu"
    assert judge.image_processor.size["longest_edge"] == 56 * 56


def test_inputs_shapes_and_mrope_types(parse_judge):
    images, prompts = data(2)
    parse_judge.load()
    batch = parse_judge.encode(images.numpy(), prompts)
    ids, types = batch.inputs["input_ids"], batch.inputs["mm_token_type_ids"]
    assert batch.inputs["image_grid_thw"].tolist() == [[1, 4, 4], [1, 4, 4]]  # 56x56 -> 16 patches
    assert batch.inputs["pixel_values"].shape == (32, 3 * 2 * 14 * 14)
    assert types.sum(1).tolist() == [4, 4]  # 16 patches / merge 2**2 = 4 image tokens per image
    assert batch.inputs["attention_mask"][:, -1].all()  # left padding: last position is real
    pad = parse_judge.tokenizer.pad_token_id
    assert (ids[batch.inputs["attention_mask"] == 0] == pad).all()


def test_parse_mode_one_judgment_per_image_keeps_raw(parse_judge):
    images, prompts = data(5)
    js = parse_judge.judge(images, prompts)
    assert len(js) == 5
    for j in js:
        assert j.status in ("ok", "unparsed") and j.prob is None and isinstance(j.raw, str)
        assert (j.status == "unparsed") == (j.verdict is None)
    assert any(j.raw for j in js)  # random weights still emit text, kept verbatim


def test_parse_batched_equals_one_by_one(qwen_dir, parse_judge):
    images, prompts = data(4)
    batched = parse_judge.judge(images, prompts)
    single = QwenJudge(str(qwen_dir), device="cpu", dtype="float32", batch_size=1, max_new_tokens=6)
    assert [j.raw for j in single.judge(images, prompts)] == [j.raw for j in batched]


def test_parse_mode_reads_scripted_answers(parse_judge, monkeypatch):
    tok = parse_judge.tokenizer
    answers = ["The score is 1.", "The score is 0.", "I cannot tell"]

    def fake_generate(input_ids, **kw):
        gen = [tok(a, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for a in answers]
        width = max(len(g) for g in gen)  # right-padded, as generate() pads finished rows
        return torch.cat([input_ids, torch.tensor([g + [tok.pad_token_id] * (width - len(g)) for g in gen])], 1)

    parse_judge.load()
    monkeypatch.setattr(parse_judge.model, "generate", fake_generate)
    js = parse_judge.judge(*data(3))
    assert [(j.verdict, j.status, j.raw) for j in js] == [
        (1, "ok", answers[0]),
        (0, "ok", answers[1]),
        (None, "unparsed", answers[2]),
    ]


def test_prob_mode_probabilities_threshold_and_batching(qwen_dir):
    images, prompts = data(5)
    judge = QwenJudge(str(qwen_dir), device="cpu", dtype="float32", batch_size=2, mode="prob", threshold=0.5)
    js = judge.judge(images, prompts)
    probs = np.array([j.prob for j in js])
    assert len(js) == 5 and ((0 <= probs) & (probs <= 1)).all()
    assert [j.verdict for j in js] == [int(p > 0.5) for p in probs]
    assert all(j.status == "ok" and j.raw.startswith("P(1)=") for j in js)
    one = QwenJudge(str(qwen_dir), device="cpu", dtype="float32", batch_size=1, mode="prob")
    assert np.allclose([j.prob for j in one.judge(images, prompts)], probs, atol=1e-5)
    mid = float(np.median(probs))
    judge.threshold = mid
    assert [j.verdict for j in judge.judge(images, prompts)] == [int(p > mid) for p in probs]


def test_prob_matches_manual_softmax(qwen_dir):
    judge = QwenJudge(str(qwen_dir), device="cpu", dtype="float32", mode="prob").load()
    images, prompts = data(1)
    prefix, one, zero = score_token_ids(judge.tokenizer)
    batch = judge.encode(images.numpy(), prompts, suffix=prefix)
    with torch.no_grad():
        logits = judge.model(**batch.inputs).logits[0, -1]
    expected = torch.softmax(logits[[one, zero]], -1)[0].item()
    assert judge.judge(images, prompts)[0].prob == pytest.approx(expected, abs=1e-6)


def test_score_token_ids_both_tokenizer_families():
    qwen_tok = tiny_tokenizer(qwen_split=True)
    prefix, one, zero = score_token_ids(qwen_tok)
    assert qwen_tok.convert_ids_to_tokens([prefix[-1], one, zero]) == ["Ġ", "1", "0"]
    assert one == qwen_tok.encode(" 1")[-1]
    gpt2_tok = tiny_tokenizer(qwen_split=False)
    prefix, one, zero = score_token_ids(gpt2_tok)
    assert gpt2_tok.decode(prefix) == "The score is" and one == gpt2_tok.encode(" 1")[-1]
    assert gpt2_tok.convert_ids_to_tokens([one, zero]) == ["Ġ1", "Ġ0"]


def test_chat_text_follows_qwen_template():
    text = chat_text("a cat", 3)
    assert text.startswith(
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
        "<|vision_start|><|image_pad|><|image_pad|><|image_pad|><|vision_end|>Does this image"
    )
    assert text.endswith("The score is {your score}.<|im_end|>\n<|im_start|>assistant\n")


def test_bad_options_and_missing_path(tmp_path):
    from unigap.errors import UnigapError

    with pytest.raises(UnigapError, match="mode"):
        QwenJudge(str(tmp_path), mode="vote")
    with pytest.raises(UnigapError, match="dtype"):
        QwenJudge(str(tmp_path), dtype="float7")
    with pytest.raises(UnigapError, match="cannot load"):
        QwenJudge(str(tmp_path / "nope"), device="cpu").judge(*data(1))
