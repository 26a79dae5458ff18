import dataclasses
import json

import numpy as np
import pytest

from vicreg_report.data import CIFAR_CLASSES
from vicreg_report.retrieval import (colour_summary, label_mixing, pick_queries, retrieve,
                                     saturation)


@pytest.fixture
def labelled():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 30)
    reps = (rng.standard_normal((10, 32))[labels] + 0.3 * rng.standard_normal((300, 32)))
    return reps.astype(np.float32), labels


def test_pick_queries_one_per_class_in_class_order_and_seeded(labelled):
    _, labels = labelled
    picks = pick_queries(labels, seed=3)
    assert labels[picks].tolist() == list(range(10))
    assert picks.tolist() == pick_queries(labels, seed=3).tolist()
    assert picks.tolist() != pick_queries(labels, seed=4).tolist()


def test_retrieve_gives_k_distinct_others_for_nearest_and_farthest(labelled):
    reps, labels = labelled
    result = retrieve(reps, pick_queries(labels, 0), k=5)
    assert len(result.queries) == 10
    for q, near, far in zip(result.queries, result.nearest, result.farthest):
        for row in (near, far):
            assert len(row) == 5 and len(set(row)) == 5 and q not in row
    assert np.all(np.diff(result.nearest_distances, axis=1) >= 0)
    assert np.all(np.diff(result.farthest_distances, axis=1) <= 0)
    assert min(map(min, result.farthest_distances)) > max(map(max, result.nearest_distances))
    json.dumps(dataclasses.asdict(result))


def test_query_with_duplicates_is_never_its_own_neighbour():
    reps = np.zeros((8, 4), np.float32)
    reps[4:] = 1.0
    result = retrieve(reps, [0, 5], k=3)
    assert 0 not in result.nearest[0] and 5 not in result.nearest[1]
    assert set(result.nearest[0]) <= {1, 2, 3} and set(result.farthest[0]) <= {4, 5, 6, 7}


def test_label_mixing_hand_checked():
    names = list(CIFAR_CLASSES)            # 0 airplane, 1 automobile, 2 bird, 3 cat, 5 dog
    labels = np.array([3, 3, 5, 2, 0, 0, 1])
    # query 0 (cat): neighbours cat, dog, bird, airplane -> same 1/4, other animal 2/4, vehicle 1/4
    # query 4 (airplane): neighbours airplane, automobile, cat, cat -> same 1/4, other vehicle 1/4
    mix = label_mixing(labels, [0, 4], [[1, 2, 3, 4], [5, 6, 0, 1]], names)
    assert mix.same_class_fraction == pytest.approx(2 / 8)
    assert mix.same_class_by_class == {"airplane": 0.25, "cat": 0.25}
    assert (mix.animal_queries, mix.vehicle_queries) == (1, 1)
    assert mix.animal_other_animal_fraction == pytest.approx(0.5)
    assert mix.animal_vehicle_fraction == pytest.approx(0.25)
    assert mix.vehicle_other_vehicle_fraction == pytest.approx(0.25)
    json.dumps(dataclasses.asdict(mix))


def test_label_mixing_without_animal_queries_or_cifar_names():
    labels = np.array([0, 0, 1])
    mix = label_mixing(labels, [0], [[1, 2]], ["a", "b"])
    assert mix.animal_queries == 0 and mix.animal_other_animal_fraction is None
    assert mix.same_class_fraction == 0.5


def test_saturation_grey_is_zero_pure_colour_is_one():
    images = np.zeros((3, 4, 4, 3), np.uint8)
    images[0] = 128                       # grey
    images[1, ..., 0] = 200               # pure red
    images[2, :2] = (100, 50, 50)         # half the pixels s = 0.5, half black
    np.testing.assert_allclose(saturation(images), [0.0, 1.0, 0.25])


def test_colour_summary_compares_farthest_with_the_data_set():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 4, 4, 3), dtype=np.uint8)
    images[[10, 11]] = images[[10, 11], ..., :1]          # two grey images
    reps = np.zeros((12, 2), np.float32)
    reps[[10, 11]] = 100.0                                # far from everything else
    result = retrieve(reps, [0, 1], k=2)
    summary = colour_summary(images, result)
    assert summary.farthest_mean_saturation == 0.0 and summary.farthest_grey_fraction == 1.0
    assert summary.dataset_grey_fraction == pytest.approx(2 / 12)
    assert summary.farthest_distinct == 2
    assert summary.dataset_mean_saturation == pytest.approx(saturation(images).mean())
