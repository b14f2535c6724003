"""MAGVIT-v2: encode/decode shapes, the lookup-free quantizer's code <-> bits round trip."""

from __future__ import annotations

import torch

from unigap.models.showo.magvit import LFQuantizer


def test_encode_decode_shapes(backend):
    vq = backend.model.vq
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    codes = vq.encode(x)
    assert codes.shape == (2, 16) and codes.dtype == torch.long
    assert int(codes.min()) >= 0 and int(codes.max()) < 64
    assert vq.decode(codes).shape == (2, 3, 16, 16)
    assert backend.decode(codes).shape == (2, 16, 16, 3) and backend.decode(codes).dtype == torch.uint8


def test_quantizer_round_trip_on_its_own_codes():
    q = LFQuantizer(13)  # the official 13 bits = 8,192 codes
    codes = torch.randint(0, 8192, (3, 256))
    z = q.entry(codes)  # (3, 13, 16, 16) of +-1
    assert z.shape == (3, 13, 16, 16) and set(z.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(q.codes(z), codes)
    assert torch.equal(q.codes(z * 0.3 + 0.01 * torch.randn_like(z)), codes)  # sign is all that matters
    # MSB first, like the official power_vals: code 1 sets only the last channel.
    assert q.entry(torch.ones(1, 1, dtype=torch.long))[0, :, 0, 0].tolist() == [-1.0] * 12 + [1.0]


def test_image_round_trip_through_decode_and_encode_keeps_the_shape(backend):
    codes = torch.randint(0, 64, (2, 16))
    again = backend.encode(backend.decode(codes))
    assert again.shape == codes.shape
