"""Linear probe: a linear classifier on frozen representations, fitted to convergence.

The probe is multinomial logistic regression with a small ridge penalty, minimised
by L-BFGS until its gradient vanishes, so that its accuracy is a property of the
representations and not of an optimiser's budget. The representations are first
whitened on the train set (centred, then mapped by the inverse square root of their
covariance; directions with no spread at all dropped). That is an invertible linear
map, so the classifier is still linear in the representations, and it makes the fit
independent of their scale and quick to converge (tens of L-BFGS steps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

# Directions whose variance is under this fraction of the largest one are dropped: only
# those without any spread to speak of in float64 (a constant or a repeated feature). A
# collapsed encoder's small directions still carry what they carry (Q4).
RANK_TOLERANCE = 1e-12
MAX_ITERATIONS = 1000
METHOD = ("multinomial logistic regression with a ridge penalty, fitted by L-BFGS to "
          "convergence on the representations whitened on the train set")
GRADIENT_TOLERANCE = 1e-6


@dataclass
class ProbeResult:
    """The study's probe of one encoder."""

    encoder: str                 # e.g. "q1", "random_init"
    test_acc: float
    train_acc: float
    per_class_test_acc: list[float]
    test_class_counts: list[int]
    feature_std: float           # mean over features of their spread on the train set
    settings: dict

    def problems(self) -> list[str]:
        return accuracy_problems("test", self.test_acc, self.per_class_test_acc,
                                 self.test_class_counts)


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


def whitening(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, A), float64: ``(x - mean) @ A`` has identity covariance over the kept
    directions (those with a variance of at least RANK_TOLERANCE times the largest)."""
    x = x.double()
    mean = x.mean(0)
    variance, directions = torch.linalg.eigh(torch.cov(x.T).reshape(x.shape[1], -1))
    kept = variance > RANK_TOLERANCE * variance.max().clamp(min=1e-300)
    return mean, directions[:, kept] / variance[kept].sqrt()


def with_bias(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)


def fit_logistic(x: torch.Tensor, y: torch.Tensor, classes: int, l2: float) -> torch.Tensor:
    """Weights (features + 1, classes) minimising mean cross-entropy + l2/2 * |W|^2 (the
    bias, the last row, unpenalised), by L-BFGS from zero."""
    x = with_bias(x)
    x_t = x.T.contiguous()
    target = F.one_hot(y, classes).to(x.dtype)
    penalised = torch.ones(x.shape[1], 1, dtype=x.dtype)
    penalised[-1] = 0
    weights = torch.zeros(x.shape[1], classes, dtype=x.dtype, requires_grad=True)
    optimizer = torch.optim.LBFGS([weights], lr=1, max_iter=MAX_ITERATIONS, history_size=10,
                                  tolerance_grad=GRADIENT_TOLERANCE, tolerance_change=0,
                                  line_search_fn="strong_wolfe")

    def loss_and_gradient() -> torch.Tensor:   # by hand: twice as fast as autograd here
        with torch.no_grad():
            logits = x @ weights
            loss = (torch.logsumexp(logits, 1) - (logits * target).sum(1)).mean()
            loss += l2 / 2 * (penalised * weights ** 2).sum()
            weights.grad = x_t @ ((torch.softmax(logits, 1) - target) / len(x))
            weights.grad += l2 * penalised * weights
        return loss

    optimizer.step(loss_and_gradient)
    return weights.detach()


def fit_linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                     test_y: np.ndarray, l2: float) -> dict:
    """Fit the probe on ``train_x``; score it on ``test_x``.

    Returns accuracies overall and per class, and ``train_pred`` and ``test_pred``: the
    predicted class of every point (int64), from which the accuracies follow.
    """
    train, test = (torch.from_numpy(x).double() for x in (train_x, test_x))
    mean, a = whitening(train)
    xtr, xte = (((x - mean) @ a).float() for x in (train, test))   # float32 for the fit
    ytr = torch.from_numpy(train_y).long()
    classes = int(max(train_y.max(), test_y.max())) + 1
    weights = fit_logistic(xtr, ytr, classes, l2)
    train_pred = (with_bias(xtr) @ weights).argmax(1).numpy()
    test_pred = (with_bias(xte) @ weights).argmax(1).numpy()
    return {"train_acc": float((train_pred == train_y).mean()),
            "test_acc": float((test_pred == test_y).mean()),
            "per_class_test_acc": per_class_accuracy(test_pred, test_y, classes),
            "train_pred": train_pred, "test_pred": test_pred}


def per_class_accuracy(pred: np.ndarray, labels: np.ndarray, classes: int) -> list[float]:
    """Accuracy within each class 0..classes-1 (0.0 for a class with no points)."""
    labels = np.asarray(labels)
    return [float((pred[labels == c] == c).mean()) if (labels == c).any() else 0.0
            for c in range(classes)]
