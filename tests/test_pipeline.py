"""The whole study on the smoke profile: outputs, caching and what a change recomputes."""

import pytest

from vicreg_report import pipeline, stages
from vicreg_report.config import SMOKE


def statuses(run):
    return {stage: status for stage, status, _ in run.log}


def run_smoke(profile=SMOKE, **kw):
    run = pipeline.Run(profile, show_progress=False, **kw)
    return run, pipeline.run_study(run)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    build = tmp_path_factory.mktemp("build")
    mp = pytest.MonkeyPatch()
    mp.setenv("VICREG_BUILD_DIR", str(build))
    run, study = run_smoke()
    yield build, run, study
    mp.undo()


@pytest.fixture
def same_build(first_run, monkeypatch):
    monkeypatch.setenv("VICREG_BUILD_DIR", str(first_run[0]))
    return first_run


def test_first_run_computes_every_stage_and_every_experiment(first_run):
    _, run, study = first_run
    assert set(statuses(run).values()) == {"recomputed"}
    for stage in ("train:q1", "train:q4", "train:q5", "probe:random_init", "embedding2d:q4",
                  "laplacian:raw_pixels", "laplacian:random_cnn", "retrieval:q5",
                  "anomaly:random_init", "clustering:q5"):
        assert stage in statuses(run)
    assert study.results["anomaly:q1"].provenance.stage_key


def test_second_run_reuses_everything(same_build):
    run, _ = run_smoke()
    assert set(statuses(run).values()) == {"reused"}


def test_changing_an_experiment_module_recomputes_only_that_experiment(same_build, monkeypatch):
    real = stages.module_hash
    monkeypatch.setattr(stages, "module_hash",
                        lambda name: "changed" if name == "clustering" else real(name))
    run, _ = run_smoke()
    recomputed = {s for s, status in statuses(run).items() if status == "recomputed"}
    assert recomputed == {"clustering:q1", "clustering:q5", "clustering:random_init"}


def test_changing_the_training_configuration_recomputes_everything_downstream(same_build):
    run, _ = run_smoke(SMOKE.replace(lr=2e-3))
    reused = {s for s, status in statuses(run).items() if status == "reused"}
    assert reused == {"laplacian:raw_pixels", "laplacian:random_cnn"}  # no encoder involved
    assert statuses(run)["train:q1"] == statuses(run)["clustering:q5"] == "recomputed"


def test_force_one_stage(same_build):
    run_smoke()  # back to the smoke configuration, whatever ran before
    run, _ = run_smoke(force=frozenset({"anomaly"}))
    recomputed = {s for s, status in statuses(run).items() if status == "recomputed"}
    assert recomputed == {"anomaly:q1", "anomaly:q5", "anomaly:random_init"}
