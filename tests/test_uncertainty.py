"""Intervals and verdicts: hand-computed cases, and agreement with sklearn's own metrics."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from vicreg_report.uncertainty import (Metric, Population, across_seeds, auc_of, class_mean_of, compare,
                                       exact, mean_of, release_indices, share_against,
                                       share_interval, verdict)


def test_verdict_needs_the_whole_interval_on_one_side():
    assert verdict(0.01, 0.2) == "higher"
    assert verdict(-0.2, -0.01) == "lower"
    assert verdict(-0.01, 0.2) == "undecided"
    assert verdict(0.0, 0.0) == "undecided"


def test_the_same_population_gives_the_same_indices_and_pairs_metrics():
    pop = Population("items", (50,))
    first = pop.indices(0, 20)
    assert pop.indices(0, 20) is first and not first.flags.writeable  # made once, shared
    release_indices()
    assert np.array_equal(pop.indices(0, 20), first) and pop.indices(0, 20) is not first
    assert not np.array_equal(pop.indices(0, 20), pop.indices(1, 20))
    assert not np.array_equal(pop.indices(0, 20), Population("others", (50,)).indices(0, 20))
    rng = np.random.default_rng(0)
    a = rng.random(50) < 0.6
    b = a.copy()
    b[:3] = ~b[:3]                      # b differs from a on 3 of 50 items only
    paired = compare(mean_of(a, pop), mean_of(b, pop), seed=0)
    unpaired = compare(mean_of(a, pop), mean_of(b, Population("elsewhere", (50,))), seed=0)
    assert paired.high - paired.low < (unpaired.high - unpaired.low) / 3


def test_stratified_population_resamples_each_stratum_apart():
    idx = Population("two strata", (30, 70)).indices(0, 200)
    assert idx.shape == (200, 100)
    assert idx[:, :30].max() < 30 and idx[:, 30:].min() >= 30 and idx[:, 30:].max() < 100


def test_bootstrap_of_an_accuracy_against_constants():
    correct = np.r_[np.ones(600), np.zeros(400)]       # 60% of 1,000 items
    pop = Population("test images", (1000,))
    clear = compare(mean_of(correct, pop), exact(0.5), seed=0)
    assert clear.verdict == "higher" and clear.diff == pytest.approx(0.1)
    # the standard error is sqrt(0.24 / 1000) = 0.0155: the interval is about +-0.03
    assert clear.low == pytest.approx(0.1 - 0.0304, abs=0.006)
    assert clear.high == pytest.approx(0.1 + 0.0304, abs=0.006)
    assert compare(mean_of(correct, pop), exact(0.61), seed=0).verdict == "undecided"
    assert compare(mean_of(correct, pop), exact(0.7), seed=0).verdict == "lower"
    both = compare(exact(0.5), exact(0.4), seed=0)
    assert (both.verdict, both.method) == ("higher", "exact")
    assert both.low == both.high == pytest.approx(0.1)


def test_class_mean_is_the_mean_of_per_class_accuracies():
    labels = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    correct = np.array([1, 1, 0, 0, 1, 1, 1, 0, 0, 0], bool)
    m = class_mean_of(correct, labels, [0, 2], Population("p", (10,)))
    assert m.value == pytest.approx((0.5 + 0.25) / 2)
    assert class_mean_of(correct, labels, [1], Population("p", (10,))).value == 1.0
    # resample 2: class 0 is item 0 four times (right), class 2 item 6 four times (right)
    rows = np.array([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [0, 0, 0, 0, 4, 4, 6, 6, 6, 6]])
    assert m.replicate(rows).tolist() == pytest.approx([0.375, 1.0])


def test_auc_by_ranks_matches_sklearn_ties_included():
    rng = np.random.default_rng(3)
    normal, anomalous = rng.normal(0, 1, 300).round(1), rng.normal(1, 1, 200).round(1)
    scores = np.r_[normal, anomalous]
    m = auc_of(scores, 300, Population("anomaly", (300, 200)))
    truth = np.r_[np.zeros(300), np.ones(200)]
    assert m.value == pytest.approx(roc_auc_score(truth, scores), abs=1e-12)
    idx = Population("anomaly", (300, 200)).indices(0, 5)
    for row, value in zip(idx, m.replicate(idx)):
        assert value == pytest.approx(roc_auc_score(truth[row], scores[row]), abs=1e-12)


def test_across_seeds_is_a_t_interval_of_the_differences():
    c = across_seeds([3.0, 4.0, 5.0], [1.0, 2.0, 2.0])     # differences 2, 2, 3
    half = 4.302652729911275 * np.std([2, 2, 3], ddof=1) / np.sqrt(3)
    assert c.diff == pytest.approx(7 / 3)
    assert (c.low, c.high) == pytest.approx((7 / 3 - half, 7 / 3 + half))
    assert c.verdict == "higher" and c.method == "seeds" and c.resamples == 3
    assert across_seeds([1.0, 2.0, 3.0], [2.0, 2.0, 2.0]).verdict == "undecided"
    with pytest.raises(ValueError):
        across_seeds([1.0], [2.0])


def test_wilson_interval_hand_checked():
    assert share_interval(50, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    assert share_interval(0, 20) == pytest.approx((0.0, 0.1611), abs=1e-4)
    enriched = share_against(30, 100, 0.1)                 # 30% among 100 against 10%
    assert enriched.verdict == "higher" and enriched.diff == pytest.approx(0.2)
    assert share_against(12, 100, 0.1).verdict == "undecided"
    assert share_against(1, 100, 0.2).verdict == "lower"


def test_resamples_that_lose_a_class_are_left_out_and_too_few_decide_nothing():
    labels = np.array([0] * 40 + [1])                 # class 1: one item, often not drawn
    correct = np.ones(41, bool)
    pop = Population("rare class", (41,))
    c = compare(class_mean_of(correct, labels, [1], pop), exact(0.5), seed=0)
    # the one item is drawn in about 1 - (40/41)^41 = 64% of resamples
    assert 550 < c.resamples < 720 and c.verdict == "higher"
    hopeless = Metric(0.7, pop, lambda idx: np.full(len(idx), np.nan))
    c = compare(hopeless, exact(0.5), seed=0)
    assert (c.verdict, c.low, c.high, c.resamples) == ("undecided", c.diff, c.diff, 0)


def test_auc_counts_ties_as_half_on_hand_made_resamples():
    scores = np.array([1.0, 2.0, 2.0, 2.0, 3.0])        # normals 1, 2, 2; anomalies 2, 3
    m = auc_of(scores, 3, Population("anomaly", (3, 2)))
    assert m.value == pytest.approx(5 / 6)              # (0.5 + 0.5 + 1) + 3 of 6 pairs
    rows = np.array([[1, 2, 2, 3, 4],                    # normals 2, 2, 2; anomalies 2, 3
                     [0, 0, 0, 4, 4]])                   # normals 1, 1, 1; anomalies 3, 3
    assert m.replicate(rows).tolist() == pytest.approx([4.5 / 6, 1.0])


def test_a_metric_read_by_several_comparisons_is_resampled_once():
    calls = []

    def replicate(idx):
        calls.append(len(idx))
        return np.full(len(idx), 0.5)

    a = Metric(0.5, Population("p", (10,)), replicate)
    compare(a, Metric(0.1), seed=0)
    compare(a, Metric(0.9), seed=0)
    assert len(calls) == 1
    compare(a, Metric(0.9), seed=1)
    assert len(calls) == 2
