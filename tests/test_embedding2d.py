import dataclasses
import json

import numpy as np
import pytest

from vicreg_report.data import CIFAR_CLASSES
from vicreg_report.embedding2d import (
    Embedding2DResult, analyse, effective_rank, group_separation, knn_accuracy_2d, pca_2d,
    pca_spectrum, silhouette_2d, stratified_subset, tsne_2d, variance_explained_topk)
from vicreg_report.errors import VicregError


def blobs(n_per=40, classes=4, dims=16, spread=20.0, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), n_per)
    centres = spread * rng.standard_normal((classes, dims))
    return (centres[labels] + rng.standard_normal((len(labels), dims))).astype(np.float32), labels


def test_pca_on_a_line_has_one_component_and_rank_one():
    rng = np.random.default_rng(0)
    t = rng.standard_normal((500, 1))
    x = 3.0 + t @ rng.standard_normal((1, 32)) + 1e-4 * rng.standard_normal((500, 32))
    coords, ratio = pca_2d(x, seed=0)
    assert coords.shape == (500, 2) and coords.dtype == np.float32
    assert ratio[0] > 0.999 and ratio[1] < 1e-3
    assert effective_rank(x) < 1.1
    assert variance_explained_topk(x, 1) > 0.999


def test_isotropic_data_has_effective_rank_close_to_dimension():
    x = np.random.default_rng(1).standard_normal((20_000, 32))
    assert 31.0 < effective_rank(x) <= 32.0
    spectrum = pca_spectrum(x)
    assert spectrum.shape == (32,) and spectrum.sum() == pytest.approx(1.0)
    assert np.all(np.diff(spectrum) <= 0)
    assert variance_explained_topk(x, 10) == pytest.approx(10 / 32, abs=0.02)


def test_two_line_collapse_is_visible_in_the_spectrum():
    rng = np.random.default_rng(2)
    basis = rng.standard_normal((2, 64))
    x = rng.standard_normal((2000, 2)) @ basis + 0.01 * rng.standard_normal((2000, 64))
    assert variance_explained_topk(x, 2) > 0.99
    assert 1.5 < effective_rank(x) < 3.0


def test_knn_accuracy_is_high_for_blobs_and_chance_for_shuffled_labels():
    coords, labels = blobs(n_per=100, classes=4, dims=2, spread=10.0)
    assert knn_accuracy_2d(coords, labels, seed=0) > 0.95
    shuffled = np.random.default_rng(3).permutation(labels)
    assert abs(knn_accuracy_2d(coords, shuffled, seed=0) - 0.25) < 0.1
    assert silhouette_2d(coords, labels) > 0.6
    assert abs(silhouette_2d(coords, shuffled)) < 0.1


def test_group_separation_averages_each_group():
    per_class = [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    groups = group_separation(per_class, list(CIFAR_CLASSES))
    assert groups == {"vehicles": 1.0, "animals": 0.0}
    assert group_separation(per_class[:3], ["a", "b", "c"]) == {}


def test_tsne_is_deterministic_for_a_seed_and_separates_blobs():
    x, labels = blobs(n_per=60, classes=3, dims=20)
    a, b = tsne_2d(x, seed=4), tsne_2d(x, seed=4)
    assert a.shape == (180, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, tsne_2d(x, seed=5))
    assert knn_accuracy_2d(a, labels) > 0.95


def test_stratified_subset_is_seeded_and_keeps_proportions():
    labels = np.repeat(np.arange(5), [100, 200, 300, 200, 200])
    idx = stratified_subset(labels, 100, seed=1)
    assert len(idx) == 100 and np.all(np.diff(idx) > 0)
    assert np.bincount(labels[idx]).tolist() == [10, 20, 30, 20, 20]
    np.testing.assert_array_equal(idx, stratified_subset(labels, 100, seed=1))
    assert len(stratified_subset(labels, 5000)) == 1000


def test_analyse_reports_both_maps_on_the_same_subset():
    rng = np.random.default_rng(6)
    labels = np.arange(300) % 10
    centres = 8.0 * rng.standard_normal((10, 24))
    reps = (centres[labels] + rng.standard_normal((300, 24))).astype(np.float32)
    result, arrays = analyse(reps, labels, list(CIFAR_CLASSES), "q1", seed=0, tsne_points=200)
    assert isinstance(result, Embedding2DResult)
    assert result.n_points == 200 and result.n_total == 300 and result.dimensions == 24
    assert arrays["pca"].shape == arrays["tsne"].shape == (200, 2)
    np.testing.assert_array_equal(arrays["labels"], labels[arrays["index"]])
    assert np.bincount(arrays["labels"]).tolist() == [20] * 10
    assert arrays["spectrum"].shape == (24,)
    assert result.tsne_knn_accuracy > 0.9 and result.tsne_silhouette > 0.3
    assert set(result.pca_group_knn_recall) == {"vehicles", "animals"}
    assert len(result.tsne_knn_recall_per_class) == 10
    assert result.variance_top1 <= result.variance_top2 <= result.variance_top10 <= 1.0
    assert 1.0 <= result.effective_rank <= 24.0
    assert {"pca", "tsne", "effective_rank"} <= set(result.timings)
    assert result.tsne_settings["perplexity"] == 30.0
    json.dumps(dataclasses.asdict(result), allow_nan=False)


def test_bad_inputs_raise_project_errors():
    x, labels = blobs()
    with pytest.raises(VicregError):
        knn_accuracy_2d(x[:, :2], labels[:10])
    with pytest.raises(VicregError):
        pca_2d(x[:, :1])
    with pytest.raises(VicregError):
        effective_rank(np.full((10, 4), np.nan))
    with pytest.raises(VicregError):
        silhouette_2d(x[:, :2], np.zeros(len(x), int))


def test_singular_values_of_a_hand_made_matrix():
    from vicreg_report.embedding2d import singular_values

    x = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])   # centred, orthogonal
    assert singular_values(x) == pytest.approx([np.sqrt(8), np.sqrt(2)])
    assert singular_values(x + 5.0) == pytest.approx([np.sqrt(8), np.sqrt(2)])  # centred first
