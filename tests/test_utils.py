import hashlib

import pytest
import torch

from unigap.utils import left_pad, sha256_file


def test_left_pad_right_aligns_rows_and_marks_real_tokens():
    ids, mask = left_pad([[5, 6, 7], [8]], pad=0)
    assert ids.dtype == torch.long and mask.dtype == torch.bool
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert mask.tolist() == [[True, True, True], [False, False, True]]


def test_left_pad_rounds_width_up():
    ids, mask = left_pad([[1, 2, 3, 4, 5], [9]], pad=-1, round_to=4)  # 5 -> 8
    assert ids.shape == mask.shape == (2, 8)
    assert ids[0].tolist() == [-1, -1, -1, 1, 2, 3, 4, 5] and int(mask[1].sum()) == 1
    exact, _ = left_pad([[1], [2, 3]], pad=0, round_to=6)  # rows <= L, round_to=L gives exactly L
    assert exact.shape == (2, 6)


def test_left_pad_rejects_no_rows_and_bad_rounding():
    with pytest.raises(ValueError, match="no rows"):
        left_pad([], pad=0)
    with pytest.raises(ValueError, match="round_to"):
        left_pad([[1]], pad=0, round_to=0)


def test_sha256_file_matches_hashlib_for_any_chunk(tmp_path):
    path = tmp_path / "blob.bin"
    data = bytes(range(256)) * 1000
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest() == sha256_file(path, chunk=999)
