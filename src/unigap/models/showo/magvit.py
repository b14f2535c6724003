"""MAGVIT-v2 image tokenizer of Show-o (showlab/magvitv2): conv encoder, lookup-free quantizer
(LFQ), conv decoder. Read from the official models/modeling_magvitv2.py + common_modules.py;
written here from scratch.

Official structure (module names kept, so its state_dict loads with only a prefix map):
  encoder: conv_in -> down[i].block[j] (ResBlock) [+ down[i].downsample] -> mid (block_1, attn_1,
           block_2) -> norm_out -> swish -> conv_out (z channels) -> quant_conv (1x1)
  quantize: z -> sign (+1 / -1 per channel) -> index = bits read MSB-first (13 bits: 8,192 codes)
  decoder: post_quant_conv (1x1) -> conv_in -> mid -> up[i].block[j] [+ up[i].upsample] ->
           norm_out -> swish -> conv_out (3 channels, [-1, 1])
The official attn_resolutions=[5] never matches a feature size (256, 128, ..., 16), so there is
attention only in the middle blocks. Shapes: B images, H x W pixels, h x w = H/f x W/f latents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class MagvitDims:
    """Official defaults = showlab/magvitv2 (whose config.json carries none of these)."""

    ch: int = 128
    enc_mult: tuple[int, ...] = (1, 2, 2, 4, 4)
    enc_blocks: tuple[int, ...] = (4, 3, 4, 3, 4)
    dec_mult: tuple[int, ...] = (1, 1, 2, 2, 4)
    dec_blocks: tuple[int, ...] = (4, 4, 3, 4, 3)
    z_channels: int = 13

    @property
    def codebook_size(self) -> int:
        return 2**self.z_channels

    @property
    def downsample(self) -> int:
        return 2 ** (len(self.enc_mult) - 1)

    def to_json(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}

    @classmethod
    def from_json(cls, d: dict) -> MagvitDims:
        keys = cls.__dataclass_fields__
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in keys})


def norm(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(32, c, eps=1e-6)


class ResBlock(nn.Module):
    """norm-swish-conv3 x2 plus a 1x1 `nin_shortcut` when channels change. (B, Ci, h, w) -> (B, Co, h, w)"""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2, self.conv2 = norm(cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.nin_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))  # dropout 0 in the official model
        return (x if self.nin_shortcut is None else self.nin_shortcut(x)) + h


class AttnBlock(nn.Module):
    """Single-head spatial self-attention with 1x1-conv q/k/v/proj_out. (B, C, h, w) -> same."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.norm = norm(c)
        self.q, self.k, self.v, self.proj_out = (nn.Conv2d(c, c, 1) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, h, w = x.shape
        y = self.norm(x)
        q, k, v = (m(y).flatten(2).transpose(1, 2) for m in (self.q, self.k, self.v))  # (B, hw, C)
        a = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None])[:, 0]  # (B, hw, C)
        return x + self.proj_out(a.transpose(1, 2).reshape(B, C, h, w))


class Down(nn.Module):
    """Asymmetric zero pad (right, bottom) then a stride-2 3x3 conv: (B, C, h, w) -> (B, C, h/2, w/2)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Up(nn.Module):
    """Nearest 2x then a 3x3 conv: (B, C, h, w) -> (B, C, 2h, 2w)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Mid(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.block_1, self.attn_1, self.block_2 = ResBlock(c, c), AttnBlock(c), ResBlock(c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block_2(self.attn_1(self.block_1(x)))


def level(blocks: list[ResBlock], resample: nn.Module | None, name: str) -> nn.Module:
    """One resolution level: `block` list, empty `attn` list (official; never used), optional resampler."""
    m = nn.Module()
    m.block, m.attn = nn.ModuleList(blocks), nn.ModuleList()
    if resample is not None:
        setattr(m, name, resample)
    return m


class Encoder(nn.Module):
    """(B, 3, H, W) in [-1, 1] -> (B, z, H/f, W/f), f = 2^(levels - 1)."""

    def __init__(self, d: MagvitDims) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(3, d.ch, 3, padding=1)
        mult_in, self.down = (1,) + d.enc_mult, nn.ModuleList()
        for i, (m, n) in enumerate(zip(d.enc_mult, d.enc_blocks)):
            cin, cout = d.ch * mult_in[i], d.ch * m
            blocks = [ResBlock(cin if j == 0 else cout, cout) for j in range(n)]
            self.down.append(level(blocks, Down(cout) if i < len(d.enc_mult) - 1 else None, "downsample"))
        c = d.ch * d.enc_mult[-1]
        self.mid, self.norm_out = Mid(c), norm(c)
        self.conv_out = nn.Conv2d(c, d.z_channels, 3, padding=1)
        self.quant_conv = nn.Conv2d(d.z_channels, d.z_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for lv in self.down:
            for b in lv.block:
                h = b(h)
            if hasattr(lv, "downsample"):
                h = lv.downsample(h)
        h = self.conv_out(F.silu(self.norm_out(self.mid(h))))
        return self.quant_conv(h)


class Decoder(nn.Module):
    """(B, z, h, w) codes as +-1 -> (B, 3, h*f, w*f), roughly in [-1, 1]."""

    def __init__(self, d: MagvitDims) -> None:
        super().__init__()
        c = d.ch * d.dec_mult[-1]
        self.post_quant_conv = nn.Conv2d(d.z_channels, d.z_channels, 1)
        self.conv_in = nn.Conv2d(d.z_channels, c, 3, padding=1)
        self.mid = Mid(c)
        ups: list[nn.Module] = []
        for i in reversed(range(len(d.dec_mult))):  # built deepest first, stored shallow first (official)
            cout = d.ch * d.dec_mult[i]
            blocks = [ResBlock(c if j == 0 else cout, cout) for j in range(d.dec_blocks[i])]
            ups.insert(0, level(blocks, Up(cout) if i > 0 else None, "upsample"))
            c = cout
        self.up = nn.ModuleList(ups)
        self.norm_out, self.conv_out = norm(c), nn.Conv2d(c, 3, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.conv_in(self.post_quant_conv(z)))
        for lv in reversed(self.up):
            for b in lv.block:
                h = b(h)
            if hasattr(lv, "upsample"):
                h = lv.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class LFQuantizer(nn.Module):
    """Lookup-free quantizer: code i <-> z channels = bits of i (MSB first) as +-1.

    Its two buffers (`embedding` (K, z), `power_vals` (z,)) are derived, persistent as in the
    official module so that its state_dict round-trips.
    """

    def __init__(self, z_channels: int) -> None:
        super().__init__()
        powers = 2 ** torch.arange(z_channels - 1, -1, -1)  # (z,) MSB first
        bits = (torch.arange(2**z_channels)[:, None] // powers) % 2  # (K, z)
        self.register_buffer("embedding", bits.float() * 2 - 1)
        self.register_buffer("power_vals", powers)

    def codes(self, z: torch.Tensor) -> torch.Tensor:
        """(B, z, h, w) continuous -> (B, h*w) int64 (row-major), via sign(z) (z > 0 -> bit 1)."""
        bits = (z > 0).long()
        return (bits * self.power_vals[None, :, None, None]).sum(1).flatten(1)

    def entry(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, M) int64 -> (B, z, s, s) +-1 with s = sqrt(M) (square grids, as the official default)."""
        B, M = codes.shape
        s = math.isqrt(M)
        if s * s != M:
            raise ValueError(f"MAGVIT-v2 decode: {M} tokens is not a square grid")
        return self.embedding[codes].view(B, s, s, -1).permute(0, 3, 1, 2).contiguous()


class MagvitV2(nn.Module):
    def __init__(self, dims: MagvitDims = MagvitDims()) -> None:
        super().__init__()
        self.dims = dims
        self.encoder, self.decoder = Encoder(dims), Decoder(dims)
        self.quantize = LFQuantizer(dims.z_channels)

    @torch.no_grad()
    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> codes (B, (H/f)*(W/f)) int64."""
        return self.quantize.codes(self.encoder(pixels))

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, M) -> pixels (B, 3, H, W), roughly in [-1, 1]."""
        return self.decoder(self.quantize.entry(codes))
