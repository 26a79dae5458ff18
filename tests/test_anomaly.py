import dataclasses
import json

import numpy as np
import pytest

from vicreg_report.anomaly import anomaly_scores, evaluate_anomaly, mnist_to_cifar_format


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_scores_are_mean_l2_to_two_nearest_hand_checked():
    reference = np.array([[0, 0], [3, 4], [0, 10]], np.float32)
    test = np.array([[0, 0], [0, 4]], np.float32)
    # (0,0): nearest 0 and 5 -> 2.5; (0,4): 3 and 4 -> 3.5
    np.testing.assert_allclose(anomaly_scores(reference, test, k=2), [2.5, 3.5], atol=1e-5)


def test_scores_match_brute_force_and_rank_a_far_point_highest(rng):
    reference = rng.standard_normal((200, 8)).astype(np.float32)
    test = rng.standard_normal((30, 8)).astype(np.float32)
    test[17] += 20.0
    scores = anomaly_scores(reference, test, k=2)
    full = np.sqrt(((test[:, None].astype(np.float64) - reference[None]) ** 2).sum(-1))
    np.testing.assert_allclose(scores, np.sort(full, 1)[:, :2].mean(1), rtol=1e-4)
    assert scores.argmax() == 17


def test_perfect_separation_gives_auc_one_and_top_anomalies(rng):
    reference = rng.standard_normal((300, 8)).astype(np.float32)
    normal = rng.standard_normal((100, 8)).astype(np.float32)
    anomalous = rng.standard_normal((50, 8)).astype(np.float32) + 30.0
    digits = np.arange(50) % 10
    result, arrays = evaluate_anomaly(reference, normal, anomalous, k=2, top=7,
                                      anomaly_labels=digits, wide_top=60)
    assert result.auc == 1.0
    assert arrays["scores"].shape == (150,) and arrays["scores"][100:].min() > arrays["scores"][:100].max()
    assert (result.fpr[0], result.tpr[0], result.fpr[-1], result.tpr[-1]) == (0, 0, 1, 1)
    assert all(i >= 100 for i in result.top_indices) and all(result.top_is_anomaly)
    assert result.top_normal_count == 0 and sum(result.top_label_counts.values()) == 7
    # top 60 = all 50 anomalies and the 10 highest normals
    assert result.wide_top_normal_count == 10
    assert result.wide_top_label_counts == {str(d): 5 for d in range(10)}
    assert result.anomaly_label_counts == {str(d): 5 for d in range(10)}
    assert result.top_scores == sorted(result.top_scores, reverse=True)
    assert result.mean_score_anomalous > result.mean_score_normal
    json.dumps(dataclasses.asdict(result))


def test_identical_distributions_give_auc_near_half(rng):
    reference = rng.standard_normal((2000, 8)).astype(np.float32)
    normal = rng.standard_normal((1500, 8)).astype(np.float32)
    anomalous = rng.standard_normal((1500, 8)).astype(np.float32)
    result, _ = evaluate_anomaly(reference, normal, anomalous, top=20)
    assert result.auc == pytest.approx(0.5, abs=0.04)
    assert result.top_normal_count + sum(result.top_is_anomaly) == 20
    assert result.top_label_counts is None and result.mean_score_by_label is None
    assert 2 <= len(result.fpr) <= 500 and len(result.fpr) == len(result.tpr)
    assert np.all(np.diff(result.fpr) >= 0)


def test_top_counts_add_up_and_name_the_favoured_digit(rng):
    reference = rng.standard_normal((300, 4)).astype(np.float32)
    normal = rng.standard_normal((100, 4)).astype(np.float32)
    anomalous = rng.standard_normal((40, 4)).astype(np.float32)
    digits = np.repeat([1, 8], 20)
    anomalous[digits == 8] += 10.0            # every 8 is far away
    result, _ = evaluate_anomaly(reference, normal, anomalous, top=7, anomaly_labels=digits,
                                 wide_top=30)
    assert result.top_label_counts == {"1": 0, "8": 7}
    assert result.wide_top_normal_count + sum(result.wide_top_label_counts.values()) == 30
    assert result.wide_top_label_counts["8"] == 20
    assert result.mean_score_by_label["8"] > result.mean_score_by_label["1"]


def test_mnist_to_cifar_format():
    mnist = np.zeros((3, 28, 28), np.uint8)
    mnist[:, 10:18, 10:18] = 255
    mnist[2] = 77                                      # constant image stays constant
    out = mnist_to_cifar_format(mnist)
    assert out.shape == (3, 32, 32, 3) and out.dtype == np.uint8
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    assert (out[2] == 77).all()
    assert out[0, 0, 0, 0] == 0 and out[0, 16, 16, 0] == 255
