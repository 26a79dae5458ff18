"""Verify's comparison, the tolerance rule and the same-seed bit-identity check."""

import json

import numpy as np
import pytest

from vicreg_report import cli, evidence, verify
from vicreg_report.errors import VicregError
from vicreg_report.metrics import METRICS, across_seeds, mean_std


def test_a_check_passes_within_tolerance_and_fails_outside():
    assert verify.Check("auc_q1", 0.95, 0.951, 0.002).verdict == "pass"
    assert verify.Check("auc_q1", 0.95, 0.96, 0.002).verdict == "FAIL"
    assert verify.Check("auc_q1", 0.95, 0.96, 0.002, gate=False).verdict == "info"


def test_a_reference_metric_the_run_lacks_is_an_error_not_a_pass():
    with pytest.raises(VicregError, match="auc_q1"):
        verify.compare({}, {"auc_q1": {"expected": 0.9, "tolerance": 0.1}})


def test_mean_and_sample_standard_deviation():
    mean, std = mean_std([1.0, 2.0, 3.0])
    assert mean == 2.0 and std == pytest.approx(1.0)
    assert mean_std([5.0]) == (5.0, 0.0)


def test_tolerance_is_four_standard_deviations_or_the_floor_of_its_kind():
    assert evidence.tolerance("percent", 0.5, 0.01) == pytest.approx(0.04)
    assert evidence.tolerance("percent", 0.5, 0.0) == evidence.FLOORS["percent"]
    assert evidence.tolerance("loss", 20.0, 0.0) == pytest.approx(0.2)


def test_reference_expects_the_mean_over_seeds():
    per_seed = {s: {m.name: float(s) for m in METRICS} for s in (0, 1, 2)}
    ev = {"profile": "x", "seeds": [0, 1, 2], "metrics": across_seeds(per_seed)}
    ref = evidence.reference_from(ev)["metrics"]["probe_q1"]
    assert ref["expected"] == pytest.approx(1.0)
    assert ref["tolerance"] == pytest.approx(4.0)


def _results(folder, value):
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps(
        {"data": {"x": value, "timings": {"t": value}}, "provenance": {"wall_time_s": value}}))
    np.savez(folder / "b.npz", y=np.arange(3.0), stage_key=np.asarray(str(value)))
    return folder


def test_bit_identity_ignores_times_but_not_results(tmp_path):
    a = _results(tmp_path / "a", 1.0)
    b = tmp_path / "b"
    b.mkdir()
    (b / "a.json").write_text(json.dumps(
        {"data": {"x": 1.0, "timings": {"t": 9.0}}, "provenance": {"wall_time_s": 9.0}}))
    np.savez(b / "b.npz", y=np.arange(3.0), stage_key=np.asarray("other"))
    assert evidence.bit_identity(a, b)["identical"]
    (b / "a.json").write_text(json.dumps({"data": {"x": 1.0000001, "timings": {}}}))
    assert evidence.bit_identity(a, b)["differing"] == ["a.json"]


def test_evidence_needs_three_seeds(tmp_path):
    with pytest.raises(VicregError, match="at least 3 seeds"):
        evidence.collect("quick", {0: tmp_path, 1: tmp_path}, None)


def test_committed_quick_reference_covers_every_metric():
    ref = verify.own_reference("quick")
    assert set(ref) == {m.name for m in METRICS}
    assert all(r["tolerance"] > 0 for r in ref.values())


def test_full_profile_is_checked_against_the_original_write_up():
    refs = dict(verify.references_for("full"))
    original = refs["full profile against the original write-up"]
    assert original["probe_q1"]["expected"] == pytest.approx(0.724)
    assert not original["q6_raw_pixels"]["gate"]


def test_verify_exits_non_zero_when_a_metric_fails(tmp_path, monkeypatch):
    folder = tmp_path / "run"
    folder.mkdir()
    from vicreg_report import metrics
    monkeypatch.setattr(metrics, "read_metrics", lambda d: {"auc_q1": 0.5})
    monkeypatch.setattr(verify, "references_for", lambda p: [
        ("t", {"auc_q1": {"expected": 0.9, "tolerance": 0.01}})])
    assert cli.main(["verify", "--profile", "smoke", "--saved-only", "--results",
                     str(folder), "--no-progress"]) == 1
    monkeypatch.setattr(metrics, "read_metrics", lambda d: {"auc_q1": 0.905})
    assert cli.main(["verify", "--profile", "smoke", "--saved-only", "--results",
                     str(folder), "--no-progress"]) == 0


def test_numerics_note_only_when_the_training_numerics_differ():
    from vicreg_report.verify import numerics_note

    bf16 = "encoder bf16 autocast, projector and loss float32, channels last"
    note = numerics_note(bf16, "float32")
    assert bf16 in note and "this run with float32" in note
    assert numerics_note(bf16, bf16) is None
    assert numerics_note("unknown", "float32") is None       # an older reference says nothing
