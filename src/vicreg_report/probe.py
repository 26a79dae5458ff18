"""Linear probe: one linear layer, cross-entropy, on frozen representations."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def fit_linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                     test_y: np.ndarray, epochs: int, lr: float, batch_size: int,
                     seed: int = 0) -> dict:
    """Train a linear classifier with Adam; accuracies overall and per class.

    Features are standardised with the train set's mean and spread first, so
    one learning rate suits every encoder (a fixed affine map: still linear).
    """
    g = torch.Generator().manual_seed(seed)
    xtr, xte = torch.from_numpy(train_x).float(), torch.from_numpy(test_x).float()
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
    per_class = [float((test_pred[yte == c] == c).float().mean()) if (yte == c).any() else 0.0
                 for c in range(classes)]
    return {"train_acc": float((train_pred == ytr).float().mean()),
            "test_acc": float((test_pred == yte).float().mean()),
            "per_class_test_acc": per_class}
