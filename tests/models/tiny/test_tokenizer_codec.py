import numpy as np

from unigap.models.tiny.codec import PatchCodec, fit_codebook
from unigap.models.tiny.tokenizer import WordTokenizer
from unigap.verdict import SYSTEM_TEXT, question


def test_tokenizer_phrases_and_round_trip():
    tok = WordTokenizer.build([question("a red circle"), "The score is 1.", SYSTEM_TEXT])
    ids = tok.encode(question("a red circle"))
    assert len(ids) == 5  # head phrase, a, red, circle, tail phrase
    assert tok.decode(ids) == question("a red circle").replace(" ?", "?")
    assert tok.decode(tok.encode("The score is 1.")) == "The score is 1."
    assert tok.encode(SYSTEM_TEXT) == [tok.index[SYSTEM_TEXT]]
    assert tok.encode("a purple zebra") == [tok.index["a"], tok.unk, tok.unk]


def test_codec_lossless_when_codebook_is_large_enough():
    rng = np.random.default_rng(0)
    palette = np.array([[0, 0, 0], [255, 0, 0], [0, 0, 255]], np.uint8)
    images = palette[rng.integers(0, 3, size=(20, 8, 8))].repeat(4, 1).repeat(4, 2)  # (20, 32, 32, 3) blocky
    cb = fit_codebook(images, 16)
    codec = PatchCodec(cb)
    tokens = codec.encode(images)
    assert tokens.shape == (20, 64)
    assert np.array_equal(codec.decode(tokens), images)


def test_codec_snaps_to_exemplars_when_too_many_patches():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 2, size=(10, 32, 32, 1)).astype(np.uint8).repeat(3, -1) * 200
    cb = fit_codebook(images, 8)
    assert len(cb) <= 8
    codec = PatchCodec(cb)
    decoded = codec.decode(codec.encode(images))
    assert set(np.unique(decoded)) <= {0, 200}  # only real pixel values, never averages
