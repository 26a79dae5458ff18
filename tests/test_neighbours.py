import numpy as np
import pytest

from vicreg_report.errors import VicregError
from vicreg_report.neighbours import farthest, knn


def brute(reference, queries):
    """Exact L2 distances in float64, (queries, reference)."""
    diff = queries[:, None, :].astype(np.float64) - reference[None, :, :]
    return np.sqrt((diff ** 2).sum(-1))


@pytest.fixture
def points():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((300, 16)).astype(np.float32),
            rng.standard_normal((40, 16)).astype(np.float32))


def test_hand_checked_distances_are_not_squared():
    reference = np.array([[0, 0], [3, 4], [6, 8]], np.float32)
    d, i = knn(reference, np.array([[0, 0]], np.float32), 3)
    assert i.tolist() == [[0, 1, 2]]
    np.testing.assert_allclose(d, [[0, 5, 10]], atol=1e-5)
    assert d.dtype == np.float32 and i.dtype == np.int64


def test_knn_matches_brute_force(points):
    reference, queries = points
    d, i = knn(reference, queries, 5)
    full = brute(reference, queries)
    expected = np.argsort(full, axis=1)[:, :5]
    np.testing.assert_array_equal(i, expected)
    np.testing.assert_allclose(d, np.take_along_axis(full, expected, 1), rtol=1e-4, atol=1e-4)


def test_exclude_self_matches_brute_force_without_diagonal(points):
    reference, _ = points
    d, i = knn(reference, reference, 3, exclude_self=True)
    full = brute(reference, reference)
    np.fill_diagonal(full, np.inf)
    expected = np.argsort(full, axis=1)[:, :3]
    np.testing.assert_array_equal(i, expected)
    np.testing.assert_allclose(d, np.take_along_axis(full, expected, 1), rtol=1e-4, atol=1e-4)


def test_exclude_self_never_returns_the_query_even_with_duplicates():
    rng = np.random.default_rng(1)
    base = rng.standard_normal((20, 8)).astype(np.float32)
    # five identical copies of one point, pairs of others: ties at distance 0
    reference = np.concatenate([np.repeat(base[:1], 5, 0), base[1:], base[1:]])
    d, i = knn(reference, reference, 3, exclude_self=True)
    assert i.shape == (len(reference), 3)
    assert not (i == np.arange(len(reference))[:, None]).any()
    assert all(len(set(row)) == 3 for row in i.tolist())
    # each copy of the first point has four other copies at distance 0
    assert set(i[:5].ravel().tolist()) <= set(range(5))
    np.testing.assert_allclose(d[:5], 0, atol=1e-3)


def test_exclude_self_for_a_subset_of_queries(points):
    reference, _ = points
    rows = np.array([7, 0, 299])
    _, i = knn(reference, reference[rows], 4, exclude_self=True, query_index=rows)
    full = brute(reference, reference[rows])
    full[np.arange(3), rows] = np.inf
    np.testing.assert_array_equal(i, np.argsort(full, axis=1)[:, :4])


def test_farthest_matches_brute_force(points):
    reference, queries = points
    d, i = farthest(reference, queries, 5)
    full = brute(reference, queries)
    expected = np.argsort(-full, axis=1)[:, :5]
    np.testing.assert_array_equal(i, expected)
    np.testing.assert_allclose(d, np.take_along_axis(full, expected, 1), rtol=1e-5)
    assert (np.diff(d, axis=1) <= 0).all()


def test_farthest_hand_checked_and_excludes_self():
    reference = np.array([[0, 0], [1, 0], [5, 0], [-2, 0]], np.float32)
    d, i = farthest(reference, reference[[0]], 2)
    assert i.tolist() == [[2, 3]] and np.allclose(d, [[5, 2]])
    # all points equal: the query itself must still be left out
    same = np.zeros((4, 3), np.float32)
    _, i = farthest(same, same, 3, exclude_self=True)
    assert not (i == np.arange(4)[:, None]).any()


def test_bad_arguments_raise_project_errors(points):
    reference, queries = points
    with pytest.raises(VicregError):
        knn(reference, queries, len(reference) + 1)
    with pytest.raises(VicregError):
        knn(reference, reference, len(reference), exclude_self=True)
    with pytest.raises(VicregError):
        knn(reference, queries[:, :3], 2)
    with pytest.raises(VicregError):
        knn(reference, queries, 2, exclude_self=True)  # queries are not the reference set


def test_drop_self_removes_own_index_wherever_it_is_else_the_last_column():
    from vicreg_report.neighbours import _drop_self
    indices = np.array([[0, 5, 6], [7, 1, 8], [3, 4, 9]])  # row 2: self pushed out by ties
    distances = np.arange(9, dtype=np.float32).reshape(3, 3)
    d, i = _drop_self(distances, indices, np.array([0, 1, 2]))
    assert i.tolist() == [[5, 6], [7, 8], [3, 4]]
    assert d.tolist() == [[1, 2], [3, 5], [6, 7]]


# ---------------------------------------------------------------- faiss and torch agree

@pytest.fixture(scope="module")
def study_sized():
    """Class-structured 128-D points at the full study's anomaly size: 50,000 train
    representations, 10,000 test queries."""
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((10, 128)).astype(np.float32) * 3
    reference = centres[rng.integers(0, 10, 50_000)] + rng.standard_normal((50_000, 128),
                                                                           dtype=np.float32)
    queries = centres[rng.integers(0, 10, 10_000)] + rng.standard_normal((10_000, 128),
                                                                         dtype=np.float32)
    return reference.astype(np.float32), queries.astype(np.float32)


def _same_up_to_ties(faiss_out, torch_out, rtol=1e-5):
    (fd, fi), (td, ti) = faiss_out, torch_out
    np.testing.assert_allclose(td, fd, rtol=rtol, atol=1e-3)
    differ = fi != ti
    # Where the order differs, the two distances are a tie within float rounding.
    np.testing.assert_allclose(td[differ], fd[differ], rtol=rtol, atol=1e-3)
    return differ.mean()


def test_torch_search_returns_faiss_neighbours_at_study_size(study_sized):
    from vicreg_report.neighbours import faiss_search, torch_search

    reference, queries = study_sized
    share_differing = _same_up_to_ties(faiss_search(reference, queries, 4),
                                       torch_search(reference, queries, 4))
    assert share_differing < 1e-3


def test_knn_without_faiss_gives_the_same_neighbours(study_sized, monkeypatch):
    import vicreg_report.neighbours as nb

    reference = study_sized[0][:20_000]
    with_faiss = nb.knn(reference, reference, 3, exclude_self=True)
    monkeypatch.setattr(nb, "BACKEND", "torch")
    without = nb.knn(reference, reference, 3, exclude_self=True)
    assert not (without[1] == np.arange(len(reference))[:, None]).any()   # never itself
    assert _same_up_to_ties(with_faiss, without) < 1e-3


def test_torch_search_hand_checked():
    from vicreg_report.neighbours import torch_search

    reference = np.array([[0, 0], [3, 4], [6, 8], [1, 0]], np.float32)
    squared, index = torch_search(reference, np.array([[0, 0], [6, 7]], np.float32), 2)
    assert index.tolist() == [[0, 3], [2, 1]]
    np.testing.assert_allclose(squared, [[0, 1], [1, 18]], atol=1e-5)
