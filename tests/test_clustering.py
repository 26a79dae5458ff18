import dataclasses
import json

import numpy as np
import pytest
from sklearn.metrics import silhouette_score

from vicreg_report.clustering import cluster
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
