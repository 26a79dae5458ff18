"""Exact nearest and farthest neighbours by L2 distance; the one module that uses faiss.

Exact kNN runs on faiss (IndexFlatL2) where it is installed; without it (a GPU
machine with no faiss wheel, say) the same search runs in torch, on the GPU if
there is one, as chunked matrix products and top-k. Both compute squared
distances as |q|^2 + |r|^2 - 2 q.r in float32 and return the same neighbours,
ties aside (tests/test_neighbours.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

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
except ImportError:
    faiss = None
finally:
    if _CORETYPE:
        del os.environ["OPENBLAS_CORETYPE"]

BACKEND = "faiss" if faiss is not None else "torch"
# Queries per matrix product in the torch search: (chunk x reference) float32 distances.
TORCH_CHUNK = {"cpu": 1024, "cuda": 8192}


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


def faiss_search(reference: np.ndarray, queries: np.ndarray,
                 k: int) -> tuple[np.ndarray, np.ndarray]:
    """Squared L2 distances (ascending) and indices of the k nearest, by faiss IndexFlatL2."""
    index = faiss.IndexFlatL2(reference.shape[1])
    index.add(reference)
    return index.search(queries, k)


def torch_search(reference: np.ndarray, queries: np.ndarray, k: int,
                 device: torch.device | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The same search in torch (float32, full precision), on ``device`` (default: the
    GPU if there is one), a chunk of queries at a time."""
    if device is None:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    ref = torch.from_numpy(reference).to(device)
    ref_sq = (ref * ref).sum(1)
    chunk = TORCH_CHUNK.get(device.type, TORCH_CHUNK["cpu"])
    out_d, out_i = [], []
    with torch.no_grad():
        for start in range(0, len(queries), chunk):
            q = torch.from_numpy(queries[start:start + chunk]).to(device)
            squared = (q * q).sum(1, keepdim=True) + ref_sq[None, :] - 2.0 * (q @ ref.T)
            d, i = torch.topk(squared, k, dim=1, largest=False, sorted=True)
            out_d.append(d.cpu())
            out_i.append(i.cpu())
    return torch.cat(out_d).numpy(), torch.cat(out_i).numpy()


def knn(reference: np.ndarray, queries: np.ndarray, k: int, exclude_self: bool = False,
        query_index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest reference points of each query: exact search (faiss, else torch).

    Returns Euclidean distances (not squared; float32, ascending) and indices (int64),
    both (len(queries), k). With ``exclude_self`` a query never gets itself back: query
    i is reference row ``query_index[i]`` (default i, the queries being the reference).
    """
    reference, queries, query_index = _check(reference, queries, k, exclude_self, query_index)
    search = faiss_search if BACKEND == "faiss" else torch_search
    squared, indices = search(reference, queries, k + int(exclude_self))
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
