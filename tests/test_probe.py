"""The linear probe: logistic regression on whitened representations, fitted to convergence."""

import math

import numpy as np
import pytest
import torch
from scipy.optimize import brentq
from sklearn.linear_model import LogisticRegression

from vicreg_report.probe import fit_linear_probe, fit_logistic, whitening

# One feature, two classes: at x = +1 three of four points are class 1, at x = -1 three of
# four are class 0. Unpenalised, the fit puts P(class 1 | x = 1) at 3/4: the logit
# difference is log 3 at x = 1 and -log 3 at x = -1.
ONE_D_X = torch.tensor([[1.0]] * 4 + [[-1.0]] * 4)
ONE_D_Y = torch.tensor([1, 1, 1, 0, 0, 0, 0, 1])


def margin(weights: torch.Tensor) -> tuple[float, float]:
    """(slope, intercept) of the class-1-minus-class-0 logit."""
    return (float(weights[0, 1] - weights[0, 0]), float(weights[1, 1] - weights[1, 0]))


def test_unpenalised_fit_is_the_maximum_likelihood_one():
    slope, intercept = margin(fit_logistic(ONE_D_X, ONE_D_Y, 2, l2=0.0))
    assert slope == pytest.approx(math.log(3), abs=1e-3)
    assert intercept == pytest.approx(0.0, abs=1e-3)


def test_the_ridge_penalty_shrinks_the_slope_as_worked_out_by_hand():
    # With weights +-d/2 on the feature, the objective is 3/4 log(1 + e^-d) +
    # 1/4 log(1 + e^d) + l2 d^2 / 4; its minimum solves sigmoid(d) + l2 d / 2 = 3/4.
    l2 = 0.5
    expected = brentq(lambda d: 1 / (1 + math.exp(-d)) + l2 * d / 2 - 0.75, 0, 5)
    slope, _ = margin(fit_logistic(ONE_D_X, ONE_D_Y, 2, l2=l2))
    assert slope == pytest.approx(expected, abs=1e-3) and expected < math.log(3) - 0.3


def test_the_fit_matches_scikit_learn_logistic_regression():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    x = rng.standard_normal((600, 5)) + 0.8 * np.eye(3, 5)[y]
    l2 = 0.01
    ours = fit_logistic(torch.from_numpy(x).float(), torch.from_numpy(y), 3, l2).numpy()
    theirs = LogisticRegression(C=1 / (l2 * len(x)), tol=1e-10, max_iter=10_000).fit(x, y)
    assert np.allclose(ours[:-1], theirs.coef_.T, atol=2e-4)
    bias = ours[-1] - ours[-1].mean()           # the bias is defined up to a constant
    assert np.allclose(bias, theirs.intercept_ - theirs.intercept_.mean(), atol=2e-4)


def blobs(n: int = 900, dims: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = rng.standard_normal((n, dims)) + 1.5 * np.eye(4, dims)[y]
    return x.astype(np.float32), y


def test_predictions_do_not_depend_on_how_the_features_are_scaled_or_mixed():
    x, y = blobs()
    mix = np.random.default_rng(1).standard_normal((6, 6)) @ np.diag([1e-2, 1, 1, 1, 1, 1e2])
    shifted = (x @ mix + 5).astype(np.float32)
    plain = fit_linear_probe(x[:600], y[:600], x[600:], y[600:], l2=1e-3)
    mixed = fit_linear_probe(shifted[:600], y[:600], shifted[600:], y[600:], l2=1e-3)
    assert (plain["test_pred"] != mixed["test_pred"]).sum() <= 2
    assert plain["test_acc"] > 0.6


def test_constant_and_repeated_features_are_dropped_not_fatal():
    x, y = blobs()
    padded = np.concatenate([x, np.full((len(x), 1), 3.0, np.float32), x[:, :2]], axis=1)
    mean, a = whitening(torch.from_numpy(padded[:600]))
    assert a.shape == (9, 6)                    # six directions with any spread
    plain = fit_linear_probe(x[:600], y[:600], x[600:], y[600:], l2=1e-3)
    fit = fit_linear_probe(padded[:600], y[:600], padded[600:], y[600:], l2=1e-3)
    assert (plain["test_pred"] != fit["test_pred"]).sum() <= 2


def test_separable_features_are_learnt_and_noise_stays_near_chance():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(400) % 4
    x = torch.nn.functional.one_hot(y, 4).float() * 3 + torch.randn(400, 4, generator=g) * 0.3
    fit = fit_linear_probe(x[:300].numpy(), y[:300].numpy(), x[300:].numpy(), y[300:].numpy(),
                           l2=1e-3)
    assert fit["test_acc"] == 1.0 and fit["train_acc"] == 1.0
    assert len(fit["per_class_test_acc"]) == 4
    assert fit["test_acc"] == pytest.approx((fit["test_pred"] == y[300:].numpy()).mean())
    noise = torch.randn(400, 4, generator=g)
    chance = fit_linear_probe(noise[:300].numpy(), y[:300].numpy(), noise[300:].numpy(),
                              y[300:].numpy(), l2=1e-3)
    assert chance["test_acc"] < 0.45
