import dataclasses
import json

import numpy as np
import pytest
import torch

from vicreg_report.errors import VicregError
from vicreg_report.laplacian import (
    LaplacianResult, components_tried, laplacian_eigenmaps, normalise, random_cnn,
    random_cnn_features, raw_pixel_features, run_variant, split_probe, stratified_split)

PROBE = dict(l2=1e-3)


def images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def two_blob_images(n_per=60, seed=0):
    """Dark and bright noisy images: two far-apart blobs in pixel space."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], n_per)
    x = rng.normal(0, 10, (2 * n_per, 32, 32, 3)) + np.where(labels, 190, 60)[:, None, None, None]
    return np.clip(x, 0, 255).astype(np.uint8), labels


def test_normalisation_is_cifars():
    x = np.zeros((1, 32, 32, 3), np.uint8)
    x[..., 0] = 255
    out = normalise(x)
    assert out[0, 0, 0, 0] == pytest.approx((1 - 0.4914) / 0.247)
    assert out[0, 0, 0, 2] == pytest.approx(-0.4465 / 0.261)
    assert raw_pixel_features(x).shape == (1, 3072)


def test_random_cnn_is_four_linear_convolutions():
    net = random_cnn(seed=0)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 4 and len(list(net.children())) == 4   # nothing but the convolutions
    for i, conv in enumerate(convs):
        assert conv.kernel_size == (5, 5) and conv.out_channels == 32
        assert conv.padding == (0, 0) and conv.stride == (1, 1)
        assert conv.in_channels == (3 if i == 0 else 32)
    x = torch.randn(2, 3, 32, 32)
    assert net(x).shape == (2, 32, 16, 16)
    with torch.no_grad():   # linear (affine): f(a + b) - f(0) = f(a) - f(0) + f(b) - f(0)
        a, b, zero = x[:1], x[1:], torch.zeros(1, 3, 32, 32)
        np.testing.assert_allclose(net(a + b) - net(zero), net(a) + net(b) - 2 * net(zero),
                                   atol=1e-3)


def test_random_cnn_features_shape_and_seed():
    x = images(7)
    before = torch.get_rng_state()
    a = random_cnn_features(x, seed=3, batch_size=3)
    assert torch.equal(before, torch.get_rng_state())   # the global generator is untouched
    assert a.shape == (7, 1024) and a.dtype == np.float32
    np.testing.assert_array_equal(a, random_cnn_features(x, seed=3, batch_size=3))
    # another batch size may pick other conv kernels: equal up to float rounding
    np.testing.assert_allclose(a, random_cnn_features(x, seed=3), rtol=1e-2, atol=1e-4)
    assert not np.allclose(a, random_cnn_features(x, seed=4))
    with pytest.raises(VicregError):
        random_cnn_features(x.astype(np.float32), seed=0)


def test_stratified_split_keeps_class_proportions_and_is_seeded():
    counts = [1000, 731, 502, 250, 95, 1000, 1000, 1000, 1000, 1000]
    labels = np.repeat(np.arange(10), counts)
    split = stratified_split(labels, seed=0)
    fit, val, test = split["fit"], split["val"], split["test"]
    assert not set(fit) & set(val) and not set(fit) & set(test) and not set(val) & set(test)
    assert len(fit) + len(val) + len(test) == len(labels)
    for part, share in ((test, 0.1), (val, 0.1), (fit, 0.8)):
        assert len(part) == pytest.approx(share * len(labels), abs=2)
        for c, total in enumerate(counts):
            assert abs((labels[part] == c).sum() - share * total) <= 2
    again = stratified_split(labels, seed=0)
    assert all(np.array_equal(split[k], again[k]) for k in split)
    assert not np.array_equal(test, stratified_split(labels, seed=1)["test"])


def test_split_probe_fits_on_the_fit_part_and_scores_val_and_test():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), [200, 100, 50])
    codes = rng.standard_normal((350, 4)).astype(np.float32)
    codes[:, 0] += 5.0 * labels
    split = stratified_split(labels, seed=0)
    probe, pred = split_probe(codes, labels, split, **PROBE)
    assert len(pred) == len(split["test"]) == 35
    assert probe.test_acc == pytest.approx((pred == labels[split["test"]]).mean())
    assert probe.test_acc > 0.9 and probe.val_acc > 0.9 and len(probe.per_class_test_acc) == 3
    shuffled = codes.copy()
    shuffled[split["test"]] = rng.permutation(shuffled[split["test"]])  # test rows only
    broken, _ = split_probe(shuffled, labels, split, **PROBE)
    assert broken.val_acc == probe.val_acc and broken.test_acc < 0.7    # test not fitted on


def test_components_tried_stop_below_the_number_of_images():
    assert components_tried(10_000, 128) == [2, 4, 8, 16, 32, 64, 128]
    assert components_tried(200, 16) == [2, 4, 8, 16]
    assert components_tried(40, 128) == [2, 4, 8, 16, 32]
    with pytest.raises(VicregError):
        components_tried(3, 128)


def test_laplacian_eigenmaps_separate_two_blobs():
    x, labels = two_blob_images()
    codes = laplacian_eigenmaps(raw_pixel_features(x), n_components=2, n_neighbors=10, seed=0)
    assert codes.shape == (120, 2) and codes.dtype == np.float32
    probe, _ = split_probe(codes, labels, stratified_split(labels, 0), **PROBE)
    assert probe.test_acc == 1.0


@pytest.mark.parametrize("variant", ["raw_pixels", "random_cnn"])
def test_run_variant(variant):
    x, labels = two_blob_images(n_per=50)
    result, arrays = run_variant(x, labels, variant, seed=0, most_components=8, n_neighbors=8,
                                 **PROBE)
    assert isinstance(result, LaplacianResult) and result.components_tried == [2, 4, 8]
    assert arrays["codes"].shape == (100, result.n_components)
    assert result.variant == variant and result.n_images == 100
    assert result.feature_dim == (3072 if variant == "raw_pixels" else 1024)
    assert result.split_sizes == {"fit": 80, "val": 10, "test": 10}
    assert result.test_class_counts == [5, 5]
    assert result.graph_components == 2 and result.probe.test_acc == 1.0
    assert set(result.sweep) == {"val_acc", "test_acc"}
    assert all(len(v) == 3 for v in result.sweep.values())
    best = max(result.sweep["val_acc"])
    assert result.sweep["val_acc"][[2, 4, 8].index(result.n_components)] == best
    assert result.n_components == min(k for k, v in zip([2, 4, 8], result.sweep["val_acc"])
                                      if v == best)                  # ties: fewer eigenvectors
    assert set(result.timings) == {"features", "embedding", "probe"}
    json.dumps(dataclasses.asdict(result), allow_nan=False)


def test_bad_inputs_raise_project_errors():
    x, labels = two_blob_images(n_per=5)
    with pytest.raises(VicregError):
        run_variant(x, labels, "pixels")
    with pytest.raises(VicregError):
        run_variant(x, labels[:3], "raw_pixels")
    with pytest.raises(VicregError):
        laplacian_eigenmaps(raw_pixel_features(x), n_components=2, n_neighbors=20)
    with pytest.raises(VicregError):
        stratified_split(np.arange(10), seed=0)   # one image per class cannot be stratified
