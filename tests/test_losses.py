import math

import pytest
import torch

from vicreg_report.losses import covariance_loss, invariance_loss, variance_loss, vicreg_loss


def t(rows):
    return torch.tensor(rows, dtype=torch.float64)


def test_invariance_is_mean_per_sample_mse():
    z, z2 = t([[1, 2], [3, 4]]), t([[1, 0], [3, 6]])
    assert invariance_loss(z, z2).item() == pytest.approx(2.0)


def test_invariance_of_identical_views_is_zero():
    z = torch.randn(8, 5, dtype=torch.float64)
    assert invariance_loss(z, z.clone()).item() == 0.0


def test_variance_hand_computed():
    z = t([[0, 0], [2, 0]])  # unbiased variances 2 and 0
    expected = (max(0, 1 - math.sqrt(2 + 1e-4)) + (1 - math.sqrt(1e-4))) / 2
    assert variance_loss(z, gamma=1.0, eps=1e-4).item() == pytest.approx(expected)


def test_variance_of_collapsed_batch_equals_gamma():
    z = torch.ones(16, 4, dtype=torch.float64) * 3.0
    assert variance_loss(z, gamma=1.0, eps=0.0).item() == pytest.approx(1.0)
    assert variance_loss(z, gamma=2.5, eps=0.0).item() == pytest.approx(2.5)
    assert variance_loss(z, gamma=1.0, eps=1e-4).item() == pytest.approx(1.0 - 1e-2)


def test_variance_is_zero_when_every_std_reaches_gamma():
    z = t([[3, -3], [-3, 3], [3, 3], [-3, -3]])
    assert variance_loss(z, gamma=1.0).item() == 0.0


def test_covariance_hand_computed():
    z = t([[0, 0], [2, 2]])  # C = [[2, 2], [2, 2]]: off-diagonal squares 4 + 4, / d = 2
    assert covariance_loss(z).item() == pytest.approx(4.0)


def test_covariance_of_decorrelated_embeddings_is_zero():
    z = t([[1, 1], [1, -1], [-1, 1], [-1, -1]])
    assert covariance_loss(z).item() == pytest.approx(0.0, abs=1e-12)


def test_covariance_ignores_the_diagonal():
    z = t([[5, 0], [-5, 0], [0, 1], [0, -1]])  # large variances, zero covariance
    assert covariance_loss(z).item() == pytest.approx(0.0, abs=1e-12)


def test_total_is_weighted_sum_over_both_views():
    torch.manual_seed(0)
    z, z2 = torch.randn(32, 6, dtype=torch.float64), torch.randn(32, 6, dtype=torch.float64)
    terms = vicreg_loss(z, z2, lam=2.0, mu=3.0, nu=0.5, gamma=1.0, eps=1e-4)
    var = variance_loss(z) + variance_loss(z2)
    cov = covariance_loss(z) + covariance_loss(z2)
    assert terms.variance.item() == pytest.approx(var.item())
    assert terms.covariance.item() == pytest.approx(cov.item())
    expected = 2.0 * invariance_loss(z, z2) + 3.0 * var + 0.5 * cov
    assert terms.total.item() == pytest.approx(expected.item())


def test_mu_zero_removes_the_variance_term():
    z = torch.ones(8, 3, dtype=torch.float64)
    terms = vicreg_loss(z, z, mu=0.0)
    assert terms.total.item() == pytest.approx(0.0)
    assert terms.variance.item() > 0


def test_every_term_hand_computed_with_batch_size_not_dimension_and_other_gamma_eps():
    """n = 3 samples of d = 2: a covariance divided by n (or biased), a variance with the
    default gamma or eps, or an invariance summed over dimensions all give other numbers."""
    z, z2 = t([[0, 1], [1, 3], [2, 2]]), t([[0, 0], [1, 1], [2, 2]])
    # Z: centred rows (-1, -1), (0, 1), (1, 0): unbiased C = [[1, 0.5], [0.5, 1]]
    assert covariance_loss(z).item() == pytest.approx(2 * 0.5 ** 2 / 2)
    # Z': centred rows (-1, -1), (0, 0), (1, 1): C = [[1, 1], [1, 1]]
    assert covariance_loss(z2).item() == pytest.approx(1.0)
    hinge = 2.0 - math.sqrt(1.0 + 0.5)            # gamma 2, eps 0.5, both variances 1
    assert variance_loss(z, gamma=2.0, eps=0.5).item() == pytest.approx(hinge)
    assert invariance_loss(z, z2).item() == pytest.approx(5 / 6)   # squares 1 and 4 of 6
    terms = vicreg_loss(z, z2, lam=25.0, mu=25.0, nu=1.0, gamma=2.0, eps=0.5)
    assert terms.total.item() == pytest.approx(25 * 5 / 6 + 25 * 2 * hinge + (0.25 + 1.0))
    assert terms.total.item() == pytest.approx(60.84608978, abs=1e-7)
