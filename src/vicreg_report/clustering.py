"""KMeans on representations: silhouette in their own dimensions, agreement with the classes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_samples

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

    def problems(self) -> list[str]:
        out = []
        if sum(self.cluster_sizes) != len(self.assignments):
            out.append(f"cluster sizes add up to {sum(self.cluster_sizes)}, not the "
                       f"{len(self.assignments)} points")
        if not -1 <= self.silhouette <= 1:
            out.append(f"silhouette {self.silhouette} outside [-1, 1]")
        return out


def cluster(reps: np.ndarray, labels: np.ndarray, n_clusters: int = 10, seed: int = 0,
            silhouette_sample: int | None = None,
            n_init: int = N_INIT) -> tuple[ClusteringResult, dict[str, np.ndarray]]:
    """KMeans (k-means++, ``n_init`` seeded restarts) on ``reps`` as given, e.g. 128-D.

    The silhouette (Euclidean) is computed in the representations' own dimensions, on
    a seeded random sample of ``silhouette_sample`` points (None or 0: every point; it
    costs O(N^2)). ARI and NMI compare the clusters with ``labels`` on every point.
    Arrays: the sampled points' indices and their silhouettes.
    """
    reps, labels = np.asarray(reps, dtype=np.float32), np.asarray(labels)
    if reps.ndim != 2 or len(reps) != len(labels):
        raise VicregError(f"Need (N, D) representations and N labels, got {reps.shape} "
                          f"and {labels.shape}.")
    if not 2 <= n_clusters < len(reps):
        raise VicregError(f"{n_clusters} clusters cannot be formed from {len(reps)} points.")
    km = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed).fit(reps)
    assignments = km.labels_.astype(np.int64)
    sample = silhouette_sample_index(len(reps), silhouette_sample, seed)
    values = silhouette_samples(reps[sample], assignments[sample], metric="euclidean")
    silhouette = np.mean(values)
    result = ClusteringResult(
        n_clusters=n_clusters, n_init=n_init, seed=seed, dimensions=reps.shape[1],
        assignments=assignments.tolist(), centres=km.cluster_centers_.astype(float).tolist(),
        cluster_sizes=np.bincount(assignments, minlength=n_clusters).tolist(),
        inertia=float(km.inertia_), silhouette=float(silhouette),
        silhouette_sample_size=len(sample),
        adjusted_rand_index=float(adjusted_rand_score(labels, assignments)),
        normalized_mutual_info=float(normalized_mutual_info_score(labels, assignments)))
    return result, {"silhouette_index": sample, "silhouette_values": values.astype(np.float32)}


def silhouette_sample_index(n: int, size: int | None, seed: int) -> np.ndarray:
    """The points the silhouette is computed on: all (``size`` None or 0, or >= n), else
    the ``size`` that sklearn's ``silhouette_score(sample_size=size, random_state=seed)``
    would draw, in its order."""
    if not size or size >= n:
        return np.arange(n)
    return np.random.RandomState(seed).permutation(n)[:size]
