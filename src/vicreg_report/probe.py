"""Linear probe: one linear layer, cross-entropy, on frozen representations.

The study's probe (STUDY.md, Q3) is a single linear layer on the representations
as they are. ``standardize`` is a stated variant: each feature first scaled to
zero mean and unit spread on the train set (an affine map, so still linear
overall), which suits one learning rate to every encoder but blows up the
near-constant dimensions of a collapsed one (Q4); the document shows it beside
the study's probe.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class ProbeResult:
    """The study's probe of one encoder (``test_acc`` ...), and the standardised variant."""

    encoder: str                 # e.g. "q1", "random_init"
    test_acc: float
    train_acc: float
    per_class_test_acc: list[float]
    standardized_test_acc: float
    standardized_train_acc: float
    standardized_per_class_test_acc: list[float]
    test_class_counts: list[int]
    feature_std: float           # mean over features of their spread on the train set
    settings: dict

    def problems(self) -> list[str]:
        return [*accuracy_problems("test", self.test_acc, self.per_class_test_acc,
                                   self.test_class_counts),
                *accuracy_problems("standardised test", self.standardized_test_acc,
                                   self.standardized_per_class_test_acc, self.test_class_counts)]


def accuracy_problems(what: str, overall: float, per_class: list[float],
                      counts: list[int]) -> list[str]:
    """An overall accuracy must be the per-class accuracies weighted by the class counts."""
    if len(per_class) != len(counts) or sum(counts) == 0:
        return [f"{len(per_class)} per-class {what} accuracies for {len(counts)} classes"]
    weighted = sum(a * n for a, n in zip(per_class, counts)) / sum(counts)
    if abs(weighted - overall) > 1e-6 or not 0 <= overall <= 1:
        return [f"the overall {what} accuracy is {overall:.4f}, but its per-class accuracies "
                f"weighted by the class counts give {weighted:.4f}"]
    return []


def fit_linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                     test_y: np.ndarray, epochs: int, lr: float, batch_size: int,
                     seed: int = 0, standardize: bool = False) -> dict:
    """Train a linear classifier with Adam on ``train_x``; score it on ``test_x``.

    Returns accuracies overall and per class, and ``train_pred`` and ``test_pred``: the
    predicted class of every point (int64), from which the accuracies follow.
    """
    g = torch.Generator().manual_seed(seed)
    xtr, xte = torch.from_numpy(train_x).float(), torch.from_numpy(test_x).float()
    if standardize:
        mean, std = xtr.mean(0), xtr.std(0) + 1e-6
        xtr, xte = (xtr - mean) / std, (xte - mean) / std
    ytr, yte = torch.from_numpy(train_y).long(), torch.from_numpy(test_y).long()
    classes = int(max(ytr.max(), yte.max())) + 1
    torch.manual_seed(seed)
    layer = torch.nn.Linear(xtr.shape[1], classes)
    optimizer = torch.optim.Adam(layer.parameters(), lr=lr)
    for _ in range(epochs):
        order = torch.randperm(len(xtr), generator=g)
        for start in range(0, len(xtr), batch_size):
            idx = order[start:start + batch_size]
            loss = F.cross_entropy(layer(xtr[idx]), ytr[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        train_pred = layer(xtr).argmax(1)
        test_pred = layer(xte).argmax(1)
    return {"train_acc": float((train_pred == ytr).float().mean()),
            "test_acc": float((test_pred == yte).float().mean()),
            "per_class_test_acc": per_class_accuracy(test_pred.numpy(), test_y, classes),
            "train_pred": train_pred.numpy(), "test_pred": test_pred.numpy()}


def per_class_accuracy(pred: np.ndarray, labels: np.ndarray, classes: int) -> list[float]:
    """Accuracy within each class 0..classes-1 (0.0 for a class with no points)."""
    labels = np.asarray(labels)
    return [float((pred[labels == c] == c).mean()) if (labels == c).any() else 0.0
            for c in range(classes)]
