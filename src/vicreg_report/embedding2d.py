"""2-D maps of representations (PCA, t-SNE), how well they separate classes, collapse measures.

Q2 compares PCA with t-SNE; Q4 looks for dimensional collapse without the
variance term. Separation is measured in the 2-D map itself (cross-validated
kNN accuracy, silhouette of the class labels, per-class kNN recall by group);
collapse in the original dimensions (PCA spectrum, effective rank).

t-SNE: openTSNE (perplexity 30, PCA init, 250 + 500 iterations, 2 threads),
Barnes-Hut gradients up to BH_BELOW points, FFT-accelerated ones from there. On
real representations (quick Q1, CIFAR-10 test images, 2 cores) Barnes-Hut is the
faster at every size this study maps, because the FFT grid grows with the map's
spread and numpy's FFT runs on one core:

    points   openTSNE-fft   openTSNE-bh
    2,000    16.8 s         3.5 s
    5,000    24.8 s         10.4 s
    10,000   36.2 s         23.7 s

(On tight Gaussian mixtures the FFT path wins from about 4,000 points; real
representations spread much more.) Seeded runs are bit-identical on CPU for the
same input and thread count. The thread count is fixed (TSNE_THREADS) because the
FFT path's map depends on it: on 6,000 points, 1, 2 and 4 threads gave three
different maps (Barnes-Hut on 2,000: the same map), so more threads on a bigger
machine would change the results.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_samples, silhouette_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
from sklearn.neighbors import KNeighborsClassifier

from .config import CLASS_GROUPS
from .errors import VicregError

TSNE_PERPLEXITY = 30.0
TSNE_THREADS = 2
BH_BELOW = 12_000              # Barnes-Hut below, FFT from here (see above)
KNN_K = 10
KNN_FOLDS = 5
TOP_K = (1, 2, 10)


@dataclass
class Embedding2DResult:
    """Separation in the PCA and t-SNE maps of ``n_points`` points; collapse on all ``n_total``."""

    encoder: str
    seed: int
    n_points: int
    n_total: int
    dimensions: int
    class_names: list[str]
    pca_explained_ratio: list[float]          # first two components
    knn_k: int
    knn_folds: int
    pca_knn_accuracy: float
    tsne_knn_accuracy: float
    pca_silhouette: float
    tsne_silhouette: float
    pca_knn_recall_per_class: list[float]
    tsne_knn_recall_per_class: list[float]
    pca_group_knn_recall: dict[str, float]    # mean per-class recall: vehicles, animals
    tsne_group_knn_recall: dict[str, float]
    effective_rank: float
    variance_top1: float
    variance_top2: float
    variance_top10: float
    tsne_method: str
    tsne_settings: dict
    timings: dict[str, float]                 # seconds per step


def _as_matrix(x: np.ndarray, min_dims: int = 1) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2 or len(x) < 2 or x.shape[1] < min_dims:
        raise VicregError(f"Need a (N, D) array with N >= 2 and D >= {min_dims}, got {x.shape}.")
    if not np.isfinite(x).all():
        raise VicregError("The representations contain NaN or infinite values; the encoder "
                          "may have diverged. Retrain it.")
    return x


def _check_labels(coords: np.ndarray, labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (len(coords),):
        raise VicregError(f"Need one label per point: {len(coords)} points, labels {labels.shape}.")
    if len(np.unique(labels)) < 2:
        raise VicregError("Class separation needs at least two classes.")
    return labels


# ---------------------------------------------------------------- maps

def pca_2d(x: np.ndarray, seed: int = 0) -> tuple[np.ndarray, list[float]]:
    """PCA to 2-D: coordinates (N, 2) float32 and the two explained-variance ratios."""
    x = _as_matrix(x, min_dims=2)
    pca = PCA(n_components=2, random_state=seed)
    coords = pca.fit_transform(x.astype(np.float64)).astype(np.float32)
    return coords, [float(r) for r in pca.explained_variance_ratio_]


def tsne_gradient_method(n: int) -> str:
    """openTSNE's gradient method for ``n`` points: Barnes-Hut below ``BH_BELOW``, else FFT."""
    return "bh" if n < BH_BELOW else "fft"


def tsne_settings(n: int, perplexity: float = TSNE_PERPLEXITY,
                  n_jobs: int = TSNE_THREADS) -> dict:
    """The t-SNE settings used for ``n`` points (perplexity capped below (n - 1) / 3)."""
    return {"library": "openTSNE", "perplexity": float(min(perplexity, (n - 1) / 3)),
            "initialization": "pca", "negative_gradient_method": tsne_gradient_method(n),
            "early_exaggeration_iter": 250, "n_iter": 500, "learning_rate": "auto",
            "metric": "euclidean", "n_jobs": n_jobs}


def tsne_2d(x: np.ndarray, seed: int = 0, perplexity: float = TSNE_PERPLEXITY,
            n_jobs: int = TSNE_THREADS) -> np.ndarray:
    """openTSNE (PCA init; FFT or Barnes-Hut by size) to 2-D: (N, 2) float32; seeded."""
    from openTSNE import TSNE

    x = _as_matrix(x)
    if len(x) < 4:
        raise VicregError(f"t-SNE needs at least 4 points, got {len(x)}.")
    s = tsne_settings(len(x), perplexity, n_jobs)
    tsne = TSNE(n_components=2, perplexity=s["perplexity"], initialization="pca",
                negative_gradient_method=s["negative_gradient_method"],
                early_exaggeration_iter=250, n_iter=500,
                metric="euclidean", n_jobs=s["n_jobs"], random_state=seed, verbose=False)
    return np.asarray(tsne.fit(x.astype(np.float64)), dtype=np.float32)


# ---------------------------------------------------------------- separation

def knn_predictions_2d(coords: np.ndarray, labels: np.ndarray, k: int = KNN_K,
                       folds: int = KNN_FOLDS, seed: int = 0) -> np.ndarray:
    """Out-of-fold kNN predictions (seeded stratified folds) for every point."""
    coords = _as_matrix(coords)
    labels = _check_labels(coords, labels)
    smallest = np.bincount(np.unique(labels, return_inverse=True)[1]).min()
    folds = min(folds, int(smallest))
    if folds < 2:
        raise VicregError("Cross-validated kNN needs at least two points of every class.")
    k = min(k, len(coords) - len(coords) // folds - 1)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return cross_val_predict(KNeighborsClassifier(n_neighbors=k), coords, labels, cv=cv)


def knn_accuracy_2d(coords: np.ndarray, labels: np.ndarray, k: int = KNN_K,
                    folds: int = KNN_FOLDS, seed: int = 0) -> float:
    """Cross-validated kNN accuracy of the class labels in the map."""
    pred = knn_predictions_2d(coords, labels, k, folds, seed)
    return float((pred == np.asarray(labels)).mean())


def per_class_recall(pred: np.ndarray, labels: np.ndarray, n_classes: int) -> list[float]:
    """Recall of each class 0..n_classes-1 (0.0 for a class with no points)."""
    labels = np.asarray(labels)
    return [float((pred[labels == c] == c).mean()) if (labels == c).any() else 0.0
            for c in range(n_classes)]


def group_separation(per_class: list[float], class_names: list[str],
                     groups: dict[str, tuple[str, ...]] = CLASS_GROUPS) -> dict[str, float]:
    """Mean of a per-class measure over each group whose classes are all named."""
    index = {name: i for i, name in enumerate(class_names)}
    return {group: float(np.mean([per_class[index[n]] for n in names]))
            for group, names in groups.items() if all(n in index for n in names)}


def silhouette_2d(coords: np.ndarray, labels: np.ndarray, sample: int | None = None,
                  seed: int = 0) -> float:
    """Silhouette of the class labels in the map (Euclidean); optional seeded sample."""
    coords = _as_matrix(coords)
    labels = _check_labels(coords, labels)
    size = None if not sample or sample >= len(coords) else sample
    return float(silhouette_score(coords, labels, sample_size=size, random_state=seed))


# ---------------------------------------------------------------- collapse

def singular_values(x: np.ndarray) -> np.ndarray:
    """Singular values of centred ``x``, descending (float64), from the eigenvalues of its
    D x D Gram matrix: N x D^2 work instead of an SVD's, the same values to ~1e-8 of the
    largest (what an effective rank or a variance share can notice)."""
    x = _as_matrix(x).astype(np.float64)
    centred = x - x.mean(0)
    eigenvalues = np.linalg.eigvalsh(centred.T @ centred)[::-1]
    return np.sqrt(np.clip(eigenvalues, 0, None))


def pca_spectrum(x: np.ndarray) -> np.ndarray:
    """Eigenvalues of the covariance, descending, normalised to sum 1 (float64)."""
    var = singular_values(x) ** 2
    if var.sum() <= 0:
        raise VicregError("The representations are constant: every variance is zero.")
    return var / var.sum()


def variance_explained_topk(x: np.ndarray, k: int) -> float:
    """Fraction of the total variance in the top ``k`` principal components."""
    return float(pca_spectrum(x)[:k].sum())


def effective_rank(x: np.ndarray) -> float:
    """exp(entropy of the normalised singular values) of centred ``x`` (Roy & Vetterli, 2007)."""
    s = singular_values(x)
    if s.sum() <= 0:
        raise VicregError("The representations are constant: their rank is zero.")
    p = s / s.sum()
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


# ---------------------------------------------------------------- analysis

def stratified_subset(labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of a seeded class-stratified subset of ``n`` points (all if n >= N)."""
    labels = np.asarray(labels)
    if n >= len(labels):
        return np.arange(len(labels))
    index, _ = train_test_split(np.arange(len(labels)), train_size=n, stratify=labels,
                                random_state=seed)
    return np.sort(index)


def _separation(coords: np.ndarray, labels: np.ndarray, class_names: list[str], seed: int):
    """kNN accuracy, silhouette, per-class recall and group recall in a map, and the
    per-point values behind them (out-of-fold predictions, silhouettes)."""
    pred = knn_predictions_2d(coords, labels, seed=seed)
    recall = per_class_recall(pred, labels, len(class_names))
    values = silhouette_samples(_as_matrix(coords), _check_labels(coords, labels))
    return (float((pred == labels).mean()), float(np.mean(values)), recall,
            group_separation(recall, class_names), pred, values)


def analyse(reps: np.ndarray, labels: np.ndarray, class_names: list[str], encoder: str,
            seed: int = 0, tsne_points: int = 10_000) -> tuple[Embedding2DResult, dict]:
    """PCA and t-SNE of a stratified subset of ``tsne_points``, collapse on every point.

    Arrays: ``pca`` and ``tsne`` coordinates (n, 2), ``index`` of the subset in
    ``reps``, its ``labels``, the normalised PCA ``spectrum`` of all points, and per
    point of each map the out-of-fold kNN prediction and the silhouette.
    """
    reps = _as_matrix(reps, min_dims=2)
    labels = _check_labels(reps, labels)
    times: dict[str, float] = {}

    def timed(name, fn, *args):
        start = time.perf_counter()
        out = fn(*args)
        times[name] = round(time.perf_counter() - start, 3)
        return out

    index = stratified_subset(labels, tsne_points, seed)
    sub, sub_labels = reps[index], labels[index]
    spectrum = timed("spectrum", pca_spectrum, reps)
    erank = timed("effective_rank", effective_rank, reps)
    pca, ratio = timed("pca", pca_2d, sub, seed)
    tsne = timed("tsne", tsne_2d, sub, seed)
    pca_sep = timed("pca_separation", _separation, pca, sub_labels, class_names, seed)
    tsne_sep = timed("tsne_separation", _separation, tsne, sub_labels, class_names, seed)
    result = Embedding2DResult(
        encoder=encoder, seed=seed, n_points=len(index), n_total=len(reps),
        dimensions=reps.shape[1], class_names=list(class_names), pca_explained_ratio=ratio,
        knn_k=KNN_K, knn_folds=KNN_FOLDS,
        pca_knn_accuracy=pca_sep[0], tsne_knn_accuracy=tsne_sep[0],
        pca_silhouette=pca_sep[1], tsne_silhouette=tsne_sep[1],
        pca_knn_recall_per_class=pca_sep[2], tsne_knn_recall_per_class=tsne_sep[2],
        pca_group_knn_recall=pca_sep[3], tsne_group_knn_recall=tsne_sep[3],
        effective_rank=erank, variance_top1=float(spectrum[:1].sum()),
        variance_top2=float(spectrum[:2].sum()), variance_top10=float(spectrum[:10].sum()),
        tsne_method=f"openTSNE-{tsne_gradient_method(len(index))}",
        tsne_settings=tsne_settings(len(index)), timings=times)
    arrays = {"pca": pca, "tsne": tsne, "index": index.astype(np.int64),
              "labels": sub_labels.astype(np.int64), "spectrum": spectrum,
              "pca_knn_pred": pca_sep[4].astype(np.int16),
              "tsne_knn_pred": tsne_sep[4].astype(np.int16),
              "pca_silhouette_values": pca_sep[5].astype(np.float32),
              "tsne_silhouette_values": tsne_sep[5].astype(np.float32)}
    return result, arrays
