"""Patch VQ codec: a 32x32 image is an 8x8 grid of 4x4 patches, each patch one codebook entry.

The codebook is fitted on renders and holds real patches (exemplars), never averages, so a
decoded image only contains colours that the world's renderer can produce: the oracle parses
decoded generations with the same exact palette as renders.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch


class PatchCodec:
    def __init__(self, codebook: np.ndarray, patch: int = 4, image_size: int = 32) -> None:
        self.codebook = np.ascontiguousarray(codebook, dtype=np.uint8)  # (K, p*p*3)
        self.patch, self.image_size = patch, image_size
        self.grid = image_size // patch
        self._lookup = {row.tobytes(): i for i, row in enumerate(self.codebook)}
        self._cb_float = torch.from_numpy(self.codebook.astype(np.float32))  # (K, D)

    @property
    def size(self) -> int:
        return len(self.codebook)

    @property
    def num_tokens(self) -> int:
        return self.grid * self.grid

    def sha256(self) -> str:
        return hashlib.sha256(self.codebook.tobytes()).hexdigest()

    def to_patches(self, images: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 -> (N, G*G, p*p*3) in raster order."""
        n, p, g = len(images), self.patch, self.grid
        x = images.reshape(n, g, p, g, p, 3).transpose(0, 1, 3, 2, 4, 5)  # (N, gy, gx, p, p, 3)
        return x.reshape(n, g * g, p * p * 3)

    def from_patches(self, patches: np.ndarray) -> np.ndarray:
        n, p, g = len(patches), self.patch, self.grid
        x = patches.reshape(n, g, g, p, p, 3).transpose(0, 1, 3, 2, 4, 5)  # (N, gy, p, gx, p, 3)
        return np.ascontiguousarray(x.reshape(n, g * p, g * p, 3))

    def encode(self, images: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 -> (N, M) int64: exact lookup, nearest exemplar (L2) otherwise."""
        patches = self.to_patches(np.asarray(images, dtype=np.uint8))
        flat = patches.reshape(-1, patches.shape[-1])
        codes = np.array([self._lookup.get(row.tobytes(), -1) for row in flat], dtype=np.int64)
        miss = codes < 0
        if miss.any():
            d = torch.cdist(torch.from_numpy(flat[miss].astype(np.float32)), self._cb_float)  # (n_miss, K)
            codes[miss] = d.argmin(1).numpy()
        return codes.reshape(len(images), -1)

    def decode(self, tokens: np.ndarray) -> np.ndarray:
        """(N, M) int -> (N, H, W, 3) uint8."""
        return self.from_patches(self.codebook[np.asarray(tokens)])


def fit_codebook(images: np.ndarray, size: int, patch: int = 4, seed: int = 0, iters: int = 20) -> np.ndarray:
    """Exemplar codebook of at most `size` patches fitted on renders (N, H, W, 3).

    If the renders hold <= size distinct patches the codebook is lossless (all of them, most
    frequent first). Otherwise k-means on the distinct patches (weighted by frequency), each
    centroid then snapped to its nearest real patch so colours stay exact.
    """
    codec = PatchCodec(np.zeros((1, patch * patch * 3), np.uint8), patch, images.shape[1])
    flat = codec.to_patches(images).reshape(-1, patch * patch * 3)
    uniq, counts = np.unique(flat, axis=0, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    uniq, counts = uniq[order], counts[order]
    if len(uniq) <= size:
        return uniq
    return _kmeans_exemplars(uniq, counts, size, seed, iters)


def _kmeans_exemplars(uniq: np.ndarray, counts: np.ndarray, size: int, seed: int, iters: int) -> np.ndarray:
    x = torch.from_numpy(uniq.astype(np.float32))  # (U, D)
    w = torch.from_numpy(counts.astype(np.float32))  # (U,)
    g = torch.Generator().manual_seed(seed)
    centroids = x[:size].clone()  # most frequent patches first: a good, deterministic start
    for _ in range(iters):
        assign = torch.cdist(x, centroids).argmin(1)  # (U,)
        sums = torch.zeros_like(centroids).index_add_(0, assign, x * w[:, None])
        mass = torch.zeros(size).index_add_(0, assign, w)
        empty = mass == 0
        centroids = torch.where(empty[:, None], x[torch.randint(len(x), (size,), generator=g)], sums / mass.clamp(min=1)[:, None])
    snapped = torch.cdist(centroids, x).argmin(1).unique()  # (<=K,) exemplar indices
    return uniq[snapped.numpy()]
