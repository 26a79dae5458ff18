"""Anomaly detection: kNN distance to the CIFAR-10 train representations, ROC and AUC."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score, roc_curve

from .errors import VicregError
from .neighbours import knn

ROC_POINTS = 500   # at most this many ROC points are kept for JSON and plotting


def mnist_to_cifar_format(images: np.ndarray) -> np.ndarray:
    """MNIST (N, 28, 28) uint8 to CIFAR's (N, 32, 32, 3) uint8, to be normalised like CIFAR.

    Bilinear resize (torch ``interpolate``, align_corners=False, no antialiasing: an
    upsampling), rounded to the nearest integer, the grey copied to all three channels.
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise VicregError(f"Expected uint8 grey images (N, H, W), got {images.dtype} "
                          f"{images.shape}.")
    x = torch.tensor(images, dtype=torch.float32).unsqueeze(1)   # copies: input may be read-only
    x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    x = x.round().clamp(0, 255).to(torch.uint8).squeeze(1).numpy()
    return np.repeat(x[..., None], 3, axis=-1)


def anomaly_scores(reference: np.ndarray, test: np.ndarray, k: int = 2) -> np.ndarray:
    """Mean L2 distance of each test point to its k nearest reference points (float64)."""
    distances, _ = knn(reference, test, k)
    return distances.astype(np.float64).mean(1)


def _downsample(fpr: np.ndarray, tpr: np.ndarray, points: int) -> tuple[list[float], list[float]]:
    """At most ``points`` ROC points, evenly spaced along the curve, both ends kept."""
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(points, len(fpr))).round().astype(int))
    return fpr[keep].tolist(), tpr[keep].tolist()


def _top_counts(order: np.ndarray, n_normal: int, anomaly_labels: np.ndarray | None,
                top: int) -> tuple[int, dict[str, int] | None]:
    """Among the ``top`` highest scores: how many are normal, and the anomalies per label."""
    chosen = order[:top]
    normal = int((chosen < n_normal).sum())
    if anomaly_labels is None:
        return normal, None
    labels = anomaly_labels[chosen[chosen >= n_normal] - n_normal]
    return normal, {str(v): int((labels == v).sum()) for v in np.unique(anomaly_labels)}


@dataclass
class AnomalyResult:
    """Scores of [normal; anomalous] test points (label 0 / 1) against a normal reference.

    ``top_*``: the ``top`` highest-scoring test points, as indices into the concatenated
    [normal; anomalous] array (ties: lower index first). ``wide_top_*``: the same counts
    among the ``wide_top`` highest, for a claim such as "digit 8 is favoured" that 7
    images cannot carry. Digit dictionaries map str(label) to a count (every label
    present in ``anomaly_labels``, zeros included); ``anomaly_label_counts`` holds the
    base rates and ``mean_score_by_label`` the mean score of each label's anomalies.
    """

    k: int
    n_normal: int
    n_anomalous: int
    auc: float
    fpr: list[float]
    tpr: list[float]
    mean_score_normal: float
    mean_score_anomalous: float
    top: int
    top_indices: list[int]
    top_scores: list[float]
    top_is_anomaly: list[bool]
    top_normal_count: int
    top_label_counts: dict[str, int] | None
    wide_top: int
    wide_top_normal_count: int
    wide_top_label_counts: dict[str, int] | None
    anomaly_label_counts: dict[str, int] | None
    mean_score_by_label: dict[str, float] | None

    def problems(self) -> list[str]:
        out = [] if 0 <= self.auc <= 1 else [f"AUC {self.auc} outside [0, 1]"]
        for name, shown, normal, labels in (
                ("top", self.top, self.top_normal_count, self.top_label_counts),
                ("wide top", self.wide_top, self.wide_top_normal_count,
                 self.wide_top_label_counts)):
            if labels is not None and normal + sum(labels.values()) != shown:
                out.append(f"the {name} {shown} hold {normal} normal points and "
                           f"{sum(labels.values())} anomalies")
        return out


def evaluate_anomaly(reference: np.ndarray, normal: np.ndarray, anomalous: np.ndarray, k: int = 2,
                     top: int = 7, anomaly_labels: np.ndarray | None = None,
                     wide_top: int = 100) -> tuple[AnomalyResult, dict[str, np.ndarray]]:
    """Score normal (label 0) and anomalous (label 1) points; AUC, ROC, the top-scoring
    points; and the arrays: every point's ``scores`` ([normal; anomalous])."""
    if len(normal) == 0 or len(anomalous) == 0:
        raise VicregError("Anomaly detection needs both normal and anomalous test points.")
    if anomaly_labels is not None:
        anomaly_labels = np.asarray(anomaly_labels)
        if anomaly_labels.shape != (len(anomalous),):
            raise VicregError(f"anomaly_labels needs one label per anomalous point "
                              f"({len(anomalous)}), got shape {anomaly_labels.shape}.")
    scores = anomaly_scores(reference, np.concatenate([normal, anomalous]), k)
    truth = np.r_[np.zeros(len(normal), np.int64), np.ones(len(anomalous), np.int64)]
    fpr, tpr, _ = roc_curve(truth, scores)
    fpr_kept, tpr_kept = _downsample(fpr, tpr, ROC_POINTS)
    order = np.argsort(-scores, kind="stable")
    top, wide_top = min(top, len(scores)), min(wide_top, len(scores))
    top_normal, top_labels = _top_counts(order, len(normal), anomaly_labels, top)
    wide_normal, wide_labels = _top_counts(order, len(normal), anomaly_labels, wide_top)
    base, by_label = None, None
    if anomaly_labels is not None:
        anomaly_scores_ = scores[len(normal):]
        values = np.unique(anomaly_labels)
        base = {str(v): int((anomaly_labels == v).sum()) for v in values}
        by_label = {str(v): float(anomaly_scores_[anomaly_labels == v].mean()) for v in values}
    return AnomalyResult(
        k=k, n_normal=len(normal), n_anomalous=len(anomalous),
        auc=float(roc_auc_score(truth, scores)), fpr=fpr_kept, tpr=tpr_kept,
        mean_score_normal=float(scores[:len(normal)].mean()),
        mean_score_anomalous=float(scores[len(normal):].mean()),
        top=top, top_indices=order[:top].tolist(), top_scores=scores[order[:top]].tolist(),
        top_is_anomaly=(order[:top] >= len(normal)).tolist(),
        top_normal_count=top_normal, top_label_counts=top_labels,
        wide_top=wide_top, wide_top_normal_count=wide_normal, wide_top_label_counts=wide_labels,
        anomaly_label_counts=base, mean_score_by_label=by_label), \
        {"scores": scores.astype(np.float64)}
