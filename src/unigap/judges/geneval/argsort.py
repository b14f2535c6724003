"""`np.argsort` as GenEval's pinned numpy (1.23) computes it, so that equal scores come out in
the official order whatever numpy is installed.

GenEval orders each class's detections by `np.argsort(scores)[::-1]` on float32 scores. numpy
1.23's default argsort kind is an introsort (`aquicksort_` in numpy/core/src/npysort/quicksort.cpp):
median-of-3 quicksort on partitions longer than 16, insertion sort below, heapsort
(`aheapsort_`) when the recursion gets deeper than 2 floor(log2 n). It is not stable for more
than 16 elements, and later numpy releases dispatch float32 argsort to SIMD sorts on AVX-512
machines, so the installed numpy cannot be relied on for the order of ties. This is a plain
Python port of that algorithm (indices into `values`; NaN sorts last as numpy's `Tag::less`).
"""

from __future__ import annotations

from collections.abc import Sequence

SMALL_QUICKSORT = 15


def _less(a: float, b: float) -> bool:
    return a < b or (b != b and a == a)


def argsort(values: Sequence[float]) -> list[int]:
    """Indices that sort `values` ascending, in numpy 1.23's default (quicksort) order."""
    v, idx = list(values), list(range(len(values)))
    n = len(v)
    if n < 2:
        return idx
    pl, pr = 0, n - 1
    stack: list[tuple[int, int, int]] = []
    depth = 2 * (n.bit_length() - 1)  # 2 x npy_get_msb(n)
    while True:
        if depth < 0:
            _heapsort(v, idx, pl, pr - pl + 1)
        else:
            while pr - pl > SMALL_QUICKSORT:
                pi = _partition(v, idx, pl, pr)
                depth -= 1
                if pi - pl < pr - pi:  # the larger side waits on the stack
                    stack.append((pi + 1, pr, depth))
                    pr = pi - 1
                else:
                    stack.append((pl, pi - 1, depth))
                    pl = pi + 1
            _insertion(v, idx, pl, pr)
        if not stack:
            return idx
        pl, pr, depth = stack.pop()


def _partition(v: list, idx: list[int], pl: int, pr: int) -> int:
    """Median-of-3 pivot moved to pr - 1, Hoare-style scan; returns the pivot's final place."""
    pm = pl + ((pr - pl) >> 1)
    if _less(v[idx[pm]], v[idx[pl]]):
        idx[pm], idx[pl] = idx[pl], idx[pm]
    if _less(v[idx[pr]], v[idx[pm]]):
        idx[pr], idx[pm] = idx[pm], idx[pr]
    if _less(v[idx[pm]], v[idx[pl]]):
        idx[pm], idx[pl] = idx[pl], idx[pm]
    vp = v[idx[pm]]
    pi, pj = pl, pr - 1
    idx[pm], idx[pj] = idx[pj], idx[pm]
    while True:
        pi += 1
        while _less(v[idx[pi]], vp):
            pi += 1
        pj -= 1
        while _less(vp, v[idx[pj]]):
            pj -= 1
        if pi >= pj:
            break
        idx[pi], idx[pj] = idx[pj], idx[pi]
    idx[pi], idx[pr - 1] = idx[pr - 1], idx[pi]
    return pi


def _insertion(v: list, idx: list[int], pl: int, pr: int) -> None:
    for pi in range(pl + 1, pr + 1):
        vi = idx[pi]
        pj = pi
        while pj > pl and _less(v[vi], v[idx[pj - 1]]):
            idx[pj] = idx[pj - 1]
            pj -= 1
        idx[pj] = vi


def _heapsort(v: list, idx: list[int], start: int, n: int) -> None:
    """numpy's aheapsort_ on idx[start:start + n] (1-based heap indexing as there)."""

    def a(k: int) -> int:
        return idx[start + k - 1]

    def put(k: int, x: int) -> None:
        idx[start + k - 1] = x

    def sift(i: int, tmp: int, size: int) -> None:
        j = 2 * i
        while j <= size:
            if j < size and _less(v[a(j)], v[a(j + 1)]):
                j += 1
            if not _less(v[tmp], v[a(j)]):
                break
            put(i, a(j))
            i, j = j, 2 * j
        put(i, tmp)

    for l_ in range(n >> 1, 0, -1):
        sift(l_, a(l_), n)
    while n > 1:
        tmp = a(n)
        put(n, a(1))
        n -= 1
        sift(1, tmp, n)
