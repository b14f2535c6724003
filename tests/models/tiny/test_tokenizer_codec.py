import numpy as np

from unigap import world
from unigap.models.tiny.codec import SlotCodec
from unigap.models.tiny.tokenizer import WordTokenizer
from unigap.verdict import SYSTEM_TEXT, question


def test_tokenizer_phrases_and_round_trip():
    tok = WordTokenizer.build([question("a red circle"), "The score is 1.", SYSTEM_TEXT])
    ids = tok.encode(question("a red circle"))
    assert len(ids) == 5  # head phrase, a, red, circle, tail phrase
    assert tok.decode(ids) == question("a red circle")
    assert tok.decode(tok.encode("The score is 1.")) == "The score is 1."
    assert tok.encode(SYSTEM_TEXT) == [tok.index[SYSTEM_TEXT]]
    assert tok.encode("a purple zebra") == [tok.index["a"], tok.unk, tok.unk]


def test_codec_round_trip_keeps_the_oracle_verdict_in_every_subtask():
    codec, rng = SlotCodec(), np.random.default_rng(0)
    for subtask in world.SUBTASKS:
        kept = 0
        for i in range(60):
            spec = world.sample_spec(subtask, rng)
            scene = world.realize(spec, rng)
            if i % 2:
                scene = world.counterfactual(spec, scene, rng)
            img = world.render(scene)
            tokens = codec.encode(img[None])[0]
            assert np.array_equal(tokens, codec.tokens_of(scene))
            back = codec.decode(tokens[None])[0]
            kept += world.oracle(back, spec)[0] == world.oracle(img, spec)[0]
            assert np.array_equal(back, img)
        assert kept / 60 >= 0.98, subtask


def test_any_token_sequence_decodes_and_blobs_are_tokens():
    codec, rng = SlotCodec(), np.random.default_rng(1)
    tokens = rng.integers(0, codec.size, size=(5, codec.num_tokens))
    images = codec.decode(tokens)
    assert images.shape == (5, 32, 32, 3) and images.dtype == np.uint8
    noisy = rng.integers(0, 255, size=(1, 32, 32, 3)).astype(np.uint8)
    assert codec.encode(noisy).shape == (1, codec.num_tokens)
    assert codec.features().shape == (codec.size, 25)
