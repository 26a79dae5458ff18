"""Exact nearest and farthest neighbours by L2 distance; the one module that uses faiss."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import VicregError


def _openblas_coretype() -> str | None:
    """The OpenBLAS kernel set this CPU supports, from /proc/cpuinfo; None where unknown."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    flags = next((set(line.split(":", 1)[1].split()) for line in text.splitlines()
                  if line.startswith("flags")), set())
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    return None


# faiss-cpu's bundled OpenBLAS (0.3.15, DYNAMIC_ARCH) does not know this CPU (AMD EPYC,
# AVX-512) and falls back to its SSE3 "Prescott" kernels. Measured here (2 cores, exact
# search of 10k x 50k x 128 float32 points for 4 neighbours, one process per setting,
# 3 searches each, identical neighbours and distances): detected 1.5-1.9 s per search,
# OPENBLAS_CORETYPE=Haswell 0.7-0.85 s, SkylakeX 0.4-0.6 s. So the kernels are named
# from the CPU's flags (a kernel the CPU lacks could crash it), a user's own
# OPENBLAS_CORETYPE wins, and the variable is set only while faiss loads: numpy's and
# scipy's newer OpenBLAS detect this CPU correctly and a global setting would override them.
_CORETYPE = None if "OPENBLAS_CORETYPE" in os.environ else _openblas_coretype()
if _CORETYPE:
    os.environ["OPENBLAS_CORETYPE"] = _CORETYPE
try:
    import faiss  # noqa: E402
finally:
    if _CORETYPE:
        del os.environ["OPENBLAS_CORETYPE"]


def _as_points(x: np.ndarray, name: str) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2 or len(x) == 0:
        raise VicregError(f"{name} must be a non-empty (N, D) array, got shape {x.shape}.")
    return x


def _check(reference: np.ndarray, queries: np.ndarray, k: int, exclude_self: bool,
           query_index: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validated float32 inputs and, with exclude_self, each query's row in the reference."""
    reference, queries = _as_points(reference, "reference"), _as_points(queries, "queries")
    if reference.shape[1] != queries.shape[1]:
        raise VicregError(f"reference has {reference.shape[1]} dimensions, queries "
                          f"{queries.shape[1]}; they must come from the same encoder.")
    available = len(reference) - int(exclude_self)
    if not 1 <= k <= available:
        raise VicregError(f"k = {k} neighbours asked for, but only {available} reference "
                          f"points are available.")
    if not exclude_self:
        return reference, queries, None
    if query_index is None:
        if len(queries) != len(reference):
            raise VicregError("exclude_self without query_index needs the queries to be "
                              "the reference set itself.")
        query_index = np.arange(len(queries))
    query_index = np.asarray(query_index, dtype=np.int64)
    if query_index.shape != (len(queries),):
        raise VicregError(f"query_index needs one entry per query ({len(queries)}), "
                          f"got shape {query_index.shape}.")
    return reference, queries, query_index


def _drop_self(distances: np.ndarray, indices: np.ndarray,
               query_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From k+1 columns keep k: drop each row's own index where present, else its last column.

    Robust to duplicates: an exact copy of the query may rank before it, or push it out.
    """
    own = indices == query_index[:, None]
    drop = np.where(own.any(1), own.argmax(1), indices.shape[1] - 1)
    keep = np.arange(indices.shape[1])[None, :] != drop[:, None]
    rows = len(indices)
    return distances[keep].reshape(rows, -1), indices[keep].reshape(rows, -1)


def knn(reference: np.ndarray, queries: np.ndarray, k: int, exclude_self: bool = False,
        query_index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest reference points of each query: exact search (faiss IndexFlatL2).

    Returns Euclidean distances (not squared; float32, ascending) and indices (int64),
    both (len(queries), k). With ``exclude_self`` a query never gets itself back: query
    i is reference row ``query_index[i]`` (default i, the queries being the reference).
    """
    reference, queries, query_index = _check(reference, queries, k, exclude_self, query_index)
    index = faiss.IndexFlatL2(reference.shape[1])
    index.add(reference)
    squared, indices = index.search(queries, k + int(exclude_self))
    distances = np.sqrt(np.clip(squared, 0.0, None))
    if exclude_self:
        distances, indices = _drop_self(distances, indices, query_index)
    return distances, indices.astype(np.int64)


def farthest(reference: np.ndarray, queries: np.ndarray, k: int, exclude_self: bool = False,
             query_index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k most distant reference points of each query, by L2 (distances descending).

    Brute force in float64 numpy, a (queries x reference) block at a time: meant for a
    few queries (Q7 has 10). ``exclude_self`` and ``query_index`` as in :func:`knn`; ties
    go to the lower index.
    """
    reference, queries, query_index = _check(reference, queries, k, exclude_self, query_index)
    ref = reference.astype(np.float64)
    ref_sq = (ref ** 2).sum(1)
    wanted = k + int(exclude_self)
    out_d, out_i = [], []
    for start in range(0, len(queries), 256):
        q = queries[start:start + 256].astype(np.float64)
        sq = np.clip((q ** 2).sum(1)[:, None] + ref_sq[None, :] - 2.0 * q @ ref.T, 0.0, None)
        order = np.argsort(-sq, axis=1, kind="stable")[:, :wanted]
        out_i.append(order)
        out_d.append(np.sqrt(np.take_along_axis(sq, order, axis=1)))
    distances, indices = np.concatenate(out_d), np.concatenate(out_i)
    if exclude_self:
        distances, indices = _drop_self(distances, indices, query_index)
    return distances.astype(np.float32), indices.astype(np.int64)
