"""Q7 retrieval: one query per class, its nearest and most distant images, and summaries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .config import ANIMALS, VEHICLES
from .errors import VicregError
from .neighbours import farthest, knn

# An image whose mean saturation is below this counts as near-grey: 2.7% of the CIFAR-10
# train images (JPEG copy; 1.5% are below 0.02, i.e. black and white), data set mean 0.28.
GREY_SATURATION = 0.05
# The nearest train images of every train image whose classes the mixing counts.
MIXING_K = 5


def pick_queries(labels: np.ndarray, seed: int) -> np.ndarray:
    """One random index per class present in ``labels``, ordered by class (numpy default_rng)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    return np.array([rng.choice(np.flatnonzero(labels == c)) for c in np.unique(labels)],
                    dtype=np.int64)


@dataclass
class RetrievalResult:
    """Per query (a row index of the representations): its k nearest and k most distant rows."""

    queries: list[int]
    nearest: list[list[int]]
    farthest: list[list[int]]
    nearest_distances: list[list[float]]
    farthest_distances: list[list[float]]


def retrieve(reps: np.ndarray, query_idx: Sequence[int] | np.ndarray, k: int = 5) -> RetrievalResult:
    """The k nearest and k most distant points of each query by L2, never the query itself."""
    query_idx = np.asarray(query_idx, dtype=np.int64)
    if query_idx.ndim != 1 or len(query_idx) == 0 or query_idx.min() < 0 \
            or query_idx.max() >= len(reps):
        raise VicregError(f"Query indices must be rows of the {len(reps)} representations.")
    queries = reps[query_idx]
    near_d, near_i = knn(reps, queries, k, exclude_self=True, query_index=query_idx)
    far_d, far_i = farthest(reps, queries, k, exclude_self=True, query_index=query_idx)
    return RetrievalResult(query_idx.tolist(), near_i.tolist(), far_i.tolist(),
                           near_d.astype(float).tolist(), far_d.astype(float).tolist())


@dataclass
class LabelMixing:
    """How often neighbours share their query's class, and how animal classes mix.

    ``animal_other_animal_fraction``: of the neighbours of queries from an animal class,
    the fraction from a *different* animal class (None without animal queries or without
    CIFAR-10 class names); likewise for vehicles. ``same_class_by_class``: the
    same-class fraction per query class.
    """

    queries: int
    neighbours_per_query: int
    same_class_fraction: float
    same_class_by_class: dict[str, float]
    animal_queries: int
    animal_other_animal_fraction: float | None
    animal_vehicle_fraction: float | None
    vehicle_queries: int
    vehicle_other_vehicle_fraction: float | None


def _group_fraction(query_cls: np.ndarray, neigh_cls: np.ndarray, classes: Sequence[str],
                    group: Sequence[str], target: Sequence[str]) -> tuple[int, float | None]:
    """Number of queries in ``group``; fraction of their neighbours of another class in ``target``."""
    ids = lambda names: np.array([i for i, c in enumerate(classes) if c in names], dtype=np.int64)
    in_group = np.isin(query_cls, ids(group))
    if not in_group.any():
        return 0, None
    neigh, own = neigh_cls[in_group], query_cls[in_group][:, None]
    return int(in_group.sum()), float((np.isin(neigh, ids(target)) & (neigh != own)).mean())


def label_mixing(labels: np.ndarray, queries: Sequence[int] | np.ndarray,
                 neighbours: Sequence[Sequence[int]] | np.ndarray,
                 classes: Sequence[str]) -> LabelMixing:
    """Class mixing among ``neighbours[i]`` (indices into ``labels``) of query ``queries[i]``.

    Works on a RetrievalResult (``r.queries, r.nearest``: 10 queries, a small sample) and
    on a kNN of every point (``np.arange(N)`` and ``knn(..., exclude_self=True)[1]``).
    """
    labels = np.asarray(labels)
    query_cls = labels[np.asarray(queries, dtype=np.int64)]
    neigh_cls = labels[np.asarray(neighbours, dtype=np.int64)]
    if neigh_cls.ndim != 2 or len(neigh_cls) != len(query_cls):
        raise VicregError("label_mixing needs one row of neighbours per query.")
    same = neigh_cls == query_cls[:, None]
    by_class = {classes[c]: float(same[query_cls == c].mean()) for c in np.unique(query_cls)}
    animals, animal_other = _group_fraction(query_cls, neigh_cls, classes, ANIMALS, ANIMALS)
    _, animal_vehicle = _group_fraction(query_cls, neigh_cls, classes, ANIMALS, VEHICLES)
    vehicles, vehicle_other = _group_fraction(query_cls, neigh_cls, classes, VEHICLES, VEHICLES)
    return LabelMixing(len(query_cls), neigh_cls.shape[1], float(same.mean()), by_class,
                       animals, animal_other, animal_vehicle, vehicles, vehicle_other)


def saturation(images: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Mean HSV saturation of each uint8 RGB image (N, H, W, 3): 0 grey, 1 pure colour.

    Per pixel (max - min) / max over the channels, 0 for black pixels.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise VicregError(f"Expected RGB images (N, H, W, 3), got shape {images.shape}.")
    out = np.empty(len(images))
    for start in range(0, len(images), chunk):
        r, g, b = (images[start:start + chunk, ..., c] for c in range(3))
        hi = np.maximum(np.maximum(r, g), b).astype(np.float32)
        lo = np.minimum(np.minimum(r, g), b).astype(np.float32)
        s = np.divide(hi - lo, hi, out=np.zeros_like(hi), where=hi > 0)
        out[start:start + chunk] = s.mean((1, 2))
    return out


@dataclass
class ColourSummary:
    """Mean saturation and share of near-grey images (mean saturation < ``grey_threshold``)."""

    grey_threshold: float
    farthest_mean_saturation: float
    nearest_mean_saturation: float
    dataset_mean_saturation: float
    farthest_grey_fraction: float
    nearest_grey_fraction: float
    dataset_grey_fraction: float
    farthest_distinct: int


def colour_summary(images: np.ndarray, result: RetrievalResult,
                   grey_threshold: float = GREY_SATURATION) -> ColourSummary:
    """Are the most distant images unusually grey or colourful? Compared with the data set.

    ``images`` are the uint8 images the representations were computed from, row for row.
    Retrieved images are counted once per query; ``farthest_distinct`` says how many
    different images the farthest lists hold (outliers recur across queries).
    """
    s = saturation(images)
    far, near = s[np.asarray(result.farthest)], s[np.asarray(result.nearest)]
    grey = lambda v: float((v < grey_threshold).mean())
    return ColourSummary(grey_threshold, float(far.mean()), float(near.mean()), float(s.mean()),
                         grey(far), grey(near), grey(s), len(np.unique(result.farthest)))


@dataclass
class RetrievalSummary:
    """Q7 for one encoder: the retrieved images, class mixing over every train image, colour."""

    retrieval: RetrievalResult
    mixing: LabelMixing
    colour: ColourSummary
