"""KMeans on representations: silhouette in their own dimensions, agreement with the classes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_score

from .errors import VicregError

N_INIT = 10   # KMeans restarts, the lowest-inertia one kept: 5 s for 50k x 128 on 2 cores


@dataclass
class ClusteringResult:
    """KMeans clusters of N points; silhouette on ``silhouette_sample_size`` of them."""

    n_clusters: int
    n_init: int
    seed: int
    dimensions: int
    assignments: list[int]
    centres: list[list[float]]
    cluster_sizes: list[int]
    inertia: float
    silhouette: float
    silhouette_sample_size: int
    adjusted_rand_index: float
    normalized_mutual_info: float


def cluster(reps: np.ndarray, labels: np.ndarray, n_clusters: int = 10, seed: int = 0,
            silhouette_sample: int | None = None, n_init: int = N_INIT) -> ClusteringResult:
    """KMeans (k-means++, ``n_init`` seeded restarts) on ``reps`` as given, e.g. 128-D.

    The silhouette (Euclidean) is computed in the representations' own dimensions, on
    a seeded random sample of ``silhouette_sample`` points (None or 0: every point; it
    costs O(N^2)). ARI and NMI compare the clusters with ``labels`` on every point.
    """
    reps, labels = np.asarray(reps, dtype=np.float32), np.asarray(labels)
    if reps.ndim != 2 or len(reps) != len(labels):
        raise VicregError(f"Need (N, D) representations and N labels, got {reps.shape} "
                          f"and {labels.shape}.")
    if not 2 <= n_clusters < len(reps):
        raise VicregError(f"{n_clusters} clusters cannot be formed from {len(reps)} points.")
    km = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed).fit(reps)
    assignments = km.labels_.astype(np.int64)
    sample = len(reps) if not silhouette_sample else min(silhouette_sample, len(reps))
    silhouette = silhouette_score(reps, assignments, metric="euclidean",
                                  sample_size=None if sample == len(reps) else sample,
                                  random_state=seed)
    return ClusteringResult(
        n_clusters=n_clusters, n_init=n_init, seed=seed, dimensions=reps.shape[1],
        assignments=assignments.tolist(), centres=km.cluster_centers_.astype(float).tolist(),
        cluster_sizes=np.bincount(assignments, minlength=n_clusters).tolist(),
        inertia=float(km.inertia_), silhouette=float(silhouette), silhouette_sample_size=sample,
        adjusted_rand_index=float(adjusted_rand_score(labels, assignments)),
        normalized_mutual_info=float(normalized_mutual_info_score(labels, assignments)))
