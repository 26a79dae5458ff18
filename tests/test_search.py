import numpy as np

from vicreg_report import data
from vicreg_report.probe import METHOD
from vicreg_report.search import (CANDIDATES, candidate_profile, validation_data,
                                  validation_split, with_earlier_probe)


def test_validation_split_holds_out_the_last_images_of_each_class():
    labels = np.array([0, 1, 0, 2, 1, 0, 2, 1, 2])
    kept, held = validation_split(labels, per_class=1)
    assert held.tolist() == [5, 7, 8]
    assert kept.tolist() == [0, 1, 2, 3, 4, 6]


def test_validation_data_never_reads_the_test_set():
    d = data.synthetic(0, train=60, test=40)
    v = validation_data(d, per_class=2)
    assert len(v.test_x) == 20 and len(v.train_x) == 40
    train_rows = {row.tobytes() for row in d.train_x}
    assert all(row.tobytes() in train_rows for row in v.test_x)
    assert not {row.tobytes() for row in v.test_x} & {row.tobytes() for row in v.train_x}


def test_candidates_change_only_profile_fields():
    for changes in CANDIDATES.values():
        p = candidate_profile(changes)
        assert all(getattr(p, k) == v for k, v in changes.items())
        assert p.test_images == 5_000            # the held-out images, not the test set


def test_a_recomputed_row_keeps_what_the_earlier_probe_gave():
    new = {"probe": METHOD, "validation_acc": 0.61, "untrained_validation_acc": 0.43}
    old = {"probe": "Adam", "validation_acc": 0.57, "untrained_validation_acc": 0.24,
           "train_minutes": 2.6}
    kept = with_earlier_probe(new, old)
    assert kept["earlier_probe"] == {"probe": "Adam", "validation_acc": 0.57,
                                     "untrained_validation_acc": 0.24}
    assert kept["validation_acc"] == 0.61
    again = with_earlier_probe({**new, "validation_acc": 0.62}, kept)
    assert again["earlier_probe"] == kept["earlier_probe"]      # carried over a second rerun
    assert "earlier_probe" not in with_earlier_probe(new, {})    # a new candidate
    assert "earlier_probe" not in with_earlier_probe(new, new)   # the same probe before
