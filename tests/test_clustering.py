import dataclasses
import json

import numpy as np
import pytest
from sklearn.metrics import silhouette_score

from vicreg_report.clustering import (adjusted_rand_from_tables, cluster, contingency_tables,
                                      normalized_mutual_info_from_tables)
from vicreg_report.errors import VicregError


@pytest.fixture
def blobs():
    """Four tight, far-apart blobs in 16 dimensions; labels are the blobs."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 50)
    centres = 20.0 * rng.standard_normal((4, 16))
    return (centres[labels] + rng.standard_normal((200, 16))).astype(np.float32), labels


def test_separated_blobs_are_recovered(blobs):
    reps, labels = blobs
    result, arrays = cluster(reps, labels, n_clusters=4, seed=0)
    assert result.adjusted_rand_index == pytest.approx(1.0)
    assert result.normalized_mutual_info == pytest.approx(1.0)
    assert result.silhouette > 0.8
    assert sorted(result.cluster_sizes) == [50, 50, 50, 50]
    assert len(result.assignments) == 200 and np.array(result.centres).shape == (4, 16)
    assert result.silhouette_sample_size == 200 and result.dimensions == 16
    assert result.silhouette == pytest.approx(arrays["silhouette_values"].mean())
    json.dumps(dataclasses.asdict(result))


def test_silhouette_is_computed_in_the_original_dimensions():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(3), 60)
    reps = rng.standard_normal((180, 32)).astype(np.float32)
    reps[:, 2:] += 3.0 * rng.standard_normal((3, 30))[labels]   # classes differ beyond 2-D
    result, _ = cluster(reps, labels, n_clusters=3, seed=0)
    assignments = np.array(result.assignments)
    full = silhouette_score(reps, assignments)
    flat = silhouette_score(reps[:, :2], assignments)
    assert result.silhouette == pytest.approx(full, rel=1e-6)
    assert abs(full - flat) > 0.1


def test_silhouette_sample_is_seeded_and_recorded(blobs):
    reps, labels = blobs
    a, sample = cluster(reps, labels, n_clusters=4, seed=3, silhouette_sample=60)
    b, _ = cluster(reps, labels, n_clusters=4, seed=3, silhouette_sample=60)
    assert a.silhouette_sample_size == 60 and a.silhouette == b.silhouette
    expected = silhouette_score(reps, np.array(a.assignments), sample_size=60, random_state=3)
    assert a.silhouette == expected                       # the same points as sklearn's sample
    assert len(sample["silhouette_index"]) == 60 == len(set(sample["silhouette_index"]))
    assert cluster(reps, labels, n_clusters=4, silhouette_sample=0)[0].silhouette_sample_size == 200
    assert cluster(reps, labels, n_clusters=4,
                   silhouette_sample=10**6)[0].silhouette_sample_size == 200


def test_random_labels_give_ari_near_zero(blobs):
    reps, _ = blobs
    shuffled = np.random.default_rng(5).integers(0, 4, len(reps))
    assert abs(cluster(reps, shuffled, n_clusters=4)[0].adjusted_rand_index) < 0.05


def test_bad_inputs_raise_project_errors(blobs):
    reps, labels = blobs
    with pytest.raises(VicregError):
        cluster(reps, labels[:10])
    with pytest.raises(VicregError):
        cluster(reps[:5], labels[:5], n_clusters=10)


# Resampled agreement: each row of idx picks items; by hand, then against sklearn.
def test_contingency_tables_count_each_rows_items():
    classes, clusters = np.array([0, 0, 1, 1]), np.array([1, 0, 0, 0])
    tables = contingency_tables(classes, clusters, np.array([[0, 1, 2, 3], [0, 0, 3, 3]]))
    assert tables.tolist() == [[[1, 1], [2, 0]], [[0, 2], [2, 0]]]


def test_agreement_from_tables_by_hand():
    tables = np.array([[[2, 0], [0, 2]],            # the classes exactly
                       [[1, 1], [1, 1]]])           # independent of them
    assert adjusted_rand_from_tables(tables) == pytest.approx([1.0, -0.5])
    assert normalized_mutual_info_from_tables(tables) == pytest.approx([1.0, 0.0])
    # 6 items: pairs together 1 + 1 = 2, within classes 3 + 3 = 6, within clusters 3 x 1;
    # expected 6 x 3 / 15 = 1.2, so ARI = (2 - 1.2) / ((6 + 3) / 2 - 1.2) = 8 / 33
    table = np.array([[[2, 1, 0], [0, 1, 2]]])
    assert adjusted_rand_from_tables(table) == pytest.approx([8 / 33])
    h = lambda *p: -sum(x * np.log(x) for x in p)   # entropy of shares
    rows, cols = h(1 / 2, 1 / 2), h(1 / 3, 1 / 3, 1 / 3)
    mutual = rows + cols - h(1 / 3, 1 / 6, 1 / 6, 1 / 3)
    assert normalized_mutual_info_from_tables(table) == pytest.approx([mutual / ((rows + cols) / 2)])


def test_agreement_from_tables_is_sklearns_on_resamples():
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    rng = np.random.default_rng(3)
    classes = rng.integers(0, 10, 3000)
    clusters = np.where(rng.random(3000) < 0.6, classes, rng.integers(0, 10, 3000))
    idx = rng.integers(0, 3000, (5, 3000))
    tables = contingency_tables(classes, clusters, idx)
    assert adjusted_rand_from_tables(tables) == pytest.approx(
        [adjusted_rand_score(classes[i], clusters[i]) for i in idx], abs=1e-12)
    assert normalized_mutual_info_from_tables(tables) == pytest.approx(
        [normalized_mutual_info_score(classes[i], clusters[i]) for i in idx], abs=1e-12)
