import json

import pytest

from vicreg_report.probe import ProbeResult
from vicreg_report.results import (LossHistory, Provenance, ResultError, TrainResult,
                                   SCHEMA_VERSION, atomic_write, content_hash, load_record,
                                   load_result, save_result, thread_count)


def provenance():
    return Provenance(commit="abc", profile="smoke", config_hash="h", config={"lr": 0.001},
                      seed=0, data_source="synthetic", data_fingerprint="f" * 64,
                      data_verified=True, python="3.11", torch="2", torchvision="0",
                      numpy="2", libraries={"scikit-learn": "1.5"}, device="cpu", wall_time_s=1.5, created="2026-01-01T00:00:00+00:00")


def train_result():
    history = LossHistory(train={"total": [3.0, 2.5], "invariance": [1.0, 0.5]},
                          train_epochs={"total": [2.75], "invariance": [0.75]},
                          test={"total": [2.7]}, steps_per_epoch=2,
                          test_batches={"total": [[2.6, 2.8]]})
    return TrainResult(model="q1", history=history, checkpoint="q1.pt", train_images=512,
                       provenance=provenance())


def test_round_trip(tmp_path):
    result = train_result()
    path = save_result(result, tmp_path / "r.json")
    assert load_result(path, TrainResult) == result
    probe = ProbeResult(encoder="q1", test_acc=0.5, train_acc=0.6, per_class_test_acc=[0.5] * 10,
                        test_class_counts=[3] * 10, feature_std=0.5, settings={"l2": 1e-3})
    assert load_result(save_result(probe, tmp_path / "p.json"), ProbeResult) == probe
    record = load_record(save_result(probe, tmp_path / "p.json", provenance()), ProbeResult)
    assert (record.result, record.provenance) == (probe, provenance())


def test_truncated_file_is_a_clear_error(tmp_path):
    path = save_result(train_result(), tmp_path / "r.json")
    path.write_text(path.read_text()[:50])
    with pytest.raises(ResultError, match="corrupted or truncated"):
        load_result(path, TrainResult)


def test_wrong_schema_type_and_fields_are_clear_errors(tmp_path):
    path = save_result(train_result(), tmp_path / "r.json")
    doc = json.loads(path.read_text())
    doc["schema"] = 99
    path.write_text(json.dumps(doc))
    with pytest.raises(ResultError, match="schema 99"):
        load_result(path, TrainResult)
    with pytest.raises(ResultError, match="holds a 'TrainResult'"):
        load_result(save_result(train_result(), tmp_path / "s.json"), ProbeResult)
    doc["schema"] = SCHEMA_VERSION
    del doc["data"]["history"]["steps_per_epoch"]
    path.write_text(json.dumps(forged(doc)))
    with pytest.raises(ResultError, match="does not match"):
        load_result(path, TrainResult)
    doc = json.loads(save_result(train_result(), tmp_path / "t.json").read_text())
    doc["data"]["history"]["train"]["total"] = ["x"]
    path.write_text(json.dumps(forged(doc)))
    with pytest.raises(ResultError, match="does not match"):
        load_result(path, TrainResult)


def forged(doc: dict) -> dict:
    """An edited document with its content hash made to match, as a forger would."""
    return {**doc, "content_sha256": content_hash(doc)}


def probe_result(**changes) -> ProbeResult:
    fields = dict(encoder="q1", test_acc=0.5, train_acc=0.6, per_class_test_acc=[0.5] * 10,
                  test_class_counts=[3] * 10, feature_std=0.5, settings={"l2": 1e-3})
    return ProbeResult(**{**fields, **changes})


def test_an_edited_result_is_refused(tmp_path):
    path = save_result(probe_result(), tmp_path / "probe.json", provenance())
    doc = json.loads(path.read_text())
    doc["data"]["test_acc"] = 0.95
    path.write_text(json.dumps(doc))
    with pytest.raises(ResultError, match=r"probe.json was changed after the run wrote it"):
        load_record(path, ProbeResult)


def test_nan_in_a_result_names_the_file_and_the_field(tmp_path):
    path = save_result(probe_result(), tmp_path / "probe.json", provenance())
    path.write_text(path.read_text().replace('"train_acc": 0.6', '"train_acc": NaN'))
    with pytest.raises(ResultError, match=r"probe.json holds a value that is not a finite "
                                          r"number, at data.train_acc"):
        load_record(path, ProbeResult)


def test_an_overall_accuracy_that_disagrees_with_its_classes_is_refused(tmp_path):
    path = save_result(probe_result(), tmp_path / "probe.json", provenance())
    doc = json.loads(path.read_text())
    doc["data"]["test_acc"] = 0.95          # the per-class accuracies still average 0.50
    path.write_text(json.dumps(forged(doc)))
    with pytest.raises(ResultError, match=r"inconsistent: the overall test accuracy is 0.9500, "
                                          r"but its per-class accuracies weighted by the class "
                                          r"counts give 0.5000"):
        load_record(path, ProbeResult)
    weighted = probe_result(test_acc=0.6, per_class_test_acc=[1.0] + [0.5] * 9,
                            test_class_counts=[6] + [3] * 9)      # (6 + 13.5) / 33 = 0.5909
    assert weighted.problems() == [
        "the overall test accuracy is 0.6000, but its per-class accuracies weighted by the "
        "class counts give 0.5909"]
    assert probe_result(test_acc=19.5 / 33, per_class_test_acc=[1.0] + [0.5] * 9,
                        test_class_counts=[6] + [3] * 9).problems() == []


def test_missing_file_says_which_stage(tmp_path):
    with pytest.raises(ResultError, match="does not exist"):
        load_result(tmp_path / "none.json", TrainResult)


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "f.txt"
    atomic_write(path, "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


@pytest.mark.parametrize("threads, text", [(1, "1 thread"), (2, "2 threads"), (16, "16 threads")])
def test_a_thread_count_is_named_in_the_singular_only_for_one(threads, text):
    assert thread_count(threads) == text
