"""The VICReg loss, term by term, exactly as STUDY.md states it.

    L = lambda * L_inv(Z, Z') + mu * [L_var(Z) + L_var(Z')] + nu * [L_cov(Z) + L_cov(Z')]

Each term is a pure function of a batch of projections (rows are samples).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


def invariance_loss(z: Tensor, z_prime: Tensor) -> Tensor:
    """Mean over the batch of the per-sample MSE between the two views."""
    return F.mse_loss(z, z_prime)


def variance_loss(z: Tensor, gamma: float = 1.0, eps: float = 1e-4) -> Tensor:
    """Mean over dimensions of the hinge max(0, gamma - std_j)."""
    std = torch.sqrt(z.var(dim=0, unbiased=True) + eps)
    return F.relu(gamma - std).mean()


def covariance_loss(z: Tensor) -> Tensor:
    """Sum of squared off-diagonal covariance entries, divided by d."""
    n, d = z.shape
    centred = z - z.mean(dim=0)
    cov = centred.T @ centred / (n - 1)
    off_diagonal = cov - torch.diag(torch.diag(cov))
    return off_diagonal.pow(2).sum() / d


@dataclass(frozen=True)
class LossTerms:
    """The three terms (each already summed over both views) and the weighted total."""

    invariance: Tensor
    variance: Tensor
    covariance: Tensor
    total: Tensor

    def as_floats(self) -> dict[str, float]:
        return {k: float(getattr(self, k).detach()) for k in TERM_NAMES}


TERM_NAMES = ("invariance", "variance", "covariance", "total")


def vicreg_loss(
    z: Tensor,
    z_prime: Tensor,
    lam: float = 25.0,
    mu: float = 25.0,
    nu: float = 1.0,
    gamma: float = 1.0,
    eps: float = 1e-4,
) -> LossTerms:
    """The weighted VICReg objective; unweighted terms are returned beside it."""
    inv = invariance_loss(z, z_prime)
    var = variance_loss(z, gamma, eps) + variance_loss(z_prime, gamma, eps)
    cov = covariance_loss(z) + covariance_loss(z_prime)
    total = lam * inv + mu * var + nu * cov
    return LossTerms(invariance=inv, variance=var, covariance=cov, total=total)
