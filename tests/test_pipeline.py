"""The whole study on the smoke profile: outputs, caching and what a change recomputes."""

import pytest

from vicreg_report import pipeline, stages
from vicreg_report.config import SMOKE


def statuses(run):
    return {stage: status for stage, status, _ in run.log}


def run_smoke(profile=SMOKE, **kw):
    run = pipeline.Run(profile, show_progress=False, **{"workers": 1, **kw})
    return run, pipeline.run_study(run)


@pytest.fixture(scope="module")
def first_run(smoke_study, tmp_path_factory):
    """The shared smoke study (which computed every stage), and a copy of its build
    folder for this module's reruns to change."""
    build = smoke_study.copy(tmp_path_factory.mktemp("pipeline") / "build")
    return build, smoke_study.run, smoke_study.study


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
    assert recomputed == {"clustering:q1", "clustering:q5", "clustering:random_init",
                          "comparisons"}                     # which reads the clusters


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


def test_saved_only_renders_stale_results_and_says_which(same_build, monkeypatch):
    run_smoke()  # fresh results for the smoke configuration
    real = stages.module_hash
    monkeypatch.setattr(stages, "module_hash",
                        lambda name: "changed" if name == "clustering" else real(name))
    run, study = run_smoke(saved_only=True)
    assert {s for s, _ in run.stale} == {"clustering:q1", "clustering:q5",
                                         "clustering:random_init", "comparisons"}
    assert "recomputed" not in statuses(run).values()
    assert study.results["clustering:q1"].result.silhouette <= 1.0


def test_stale_in_saved_only_mode_spreads_to_everything_downstream(same_build, monkeypatch):
    run_smoke()
    real = stages.module_hash
    monkeypatch.setattr(stages, "module_hash",
                        lambda name: "changed" if name == "representations" else real(name))
    run, _ = run_smoke(saved_only=True)
    fresh = {s for s, status in statuses(run).items() if status == "reused"}
    assert fresh == {"train:q1", "train:q4", "laplacian:raw_pixels", "laplacian:random_cnn"}
    assert {"train:q5", "probe:q1", "anomaly:q5", "clustering:random_init"} <= \
        {s for s, _ in run.stale}


def test_saved_only_without_results_is_a_clear_error(tmp_path):
    with pytest.raises(pipeline.VicregError, match="no usable saved result.*--saved-only"):
        run_smoke(saved_only=True, results=tmp_path / "empty")


def test_each_seed_has_its_own_results_folder():
    run = pipeline.Run(SMOKE.replace(seed=3), show_progress=False)
    assert run.results_dir.name == "seed-3"
    assert pipeline.for_seed(run, 4).results_dir.name == "seed-4"
    assert pipeline.for_seed(run, 4).profile.seed == 4


def test_metrics_read_from_a_saved_run_and_verify_fails_outside_tolerance(same_build):
    from vicreg_report import metrics, verify

    run, _ = run_smoke()
    measured = metrics.read_metrics(run.results_dir)
    assert set(measured) == set(metrics.BY_NAME)
    exact = {name: {"expected": v, "tolerance": 0.0} for name, v in measured.items()}
    assert verify.verify(measured, "smoke") is True     # seed 0 within the committed reference
    checks = verify.compare(measured, exact)
    assert all(c.passed for c in checks)
    off = dict(exact, auc_q1={"expected": measured["auc_q1"] + 0.01, "tolerance": 0.005})
    failed = [c.metric for c in verify.compare(measured, off) if not c.passed]
    assert failed == ["auc_q1"]


def test_stages_side_by_side_give_the_same_results_as_in_turn(tmp_path, monkeypatch):
    """Probes and experiments in two worker processes: every result file (data and
    arrays; provenance and timings aside) equals the one computed in turn. Both runs are
    made here, one after the other, from nothing."""
    from vicreg_report.evidence import bit_identity
    from vicreg_report.probe import ProbeResult
    from vicreg_report.results import load_record

    runs = {}
    for workers in (1, 2):
        monkeypatch.setenv("VICREG_BUILD_DIR", str(tmp_path / f"workers-{workers}"))
        runs[workers] = run_smoke(workers=workers)
    (in_turn, _), (side_by_side, study) = runs[1], runs[2]
    assert in_turn.worker_count == 1 and side_by_side.worker_count == 2
    assert statuses(side_by_side)["clustering:q1"] == "recomputed"
    same = bit_identity(in_turn.results_dir, side_by_side.results_dir)
    assert same["identical"], same["differing"]
    assert same["files_compared"] >= 30
    saved = load_record(in_turn.results_dir / "probe.q1.json", ProbeResult).result
    assert study.probes["q1"].result == saved


@pytest.mark.parametrize("cores, workers, allowed, processes, side_by_side, threads", [
    (2, None, True, 1, True, 1),      # this machine: two one-thread trainings at once
    (8, None, True, 1, True, 4),      # half the cores each
    (1, None, True, 1, False, 1),     # one core: in turn
    (2, 1, True, 1, False, 1),        # --workers 1: in turn
    (2, None, False, 1, False, 1),    # the profile says not to (smoke)
    (2, None, True, 2, False, 1),     # under torchrun: each process trains its share
])
def test_q1_and_q4_train_side_by_side_on_a_cpu_with_two_cores(
        monkeypatch, cores, workers, allowed, processes, side_by_side, threads):
    monkeypatch.setattr(pipeline, "available_cores", lambda: cores)
    monkeypatch.setattr(pipeline, "world", lambda: (0, processes))
    run = pipeline.Run(SMOKE.replace(cpu_side_by_side=allowed), device="cpu",
                       show_progress=False, workers=workers)
    assert pipeline.trains_side_by_side(run) is side_by_side
    assert pipeline.worker_threads(run) == threads


def test_q1_and_q4_side_by_side_train_as_one_thread_in_turn(tmp_path, monkeypatch):
    """Two worker processes of one thread each give the same losses and weights as the
    same trainings in turn in this process with one thread."""
    import torch

    from vicreg_report.results import load_result
    from vicreg_report.training import TrainResult

    monkeypatch.setattr(pipeline, "available_cores", lambda: 2)
    spawned, in_workers = [], pipeline.in_workers
    monkeypatch.setattr(pipeline, "in_workers",
                        lambda run, n, *rest, **kw: spawned.append(n) or in_workers(
                            run, n, *rest, **kw))
    threads = torch.get_num_threads()
    out = {}
    for allowed in (True, False):
        monkeypatch.setenv("VICREG_BUILD_DIR", str(tmp_path / str(allowed)))
        run = pipeline.Run(SMOKE.replace(cpu_side_by_side=allowed), device="cpu",
                           show_progress=False)
        assert pipeline.trains_side_by_side(run) is allowed
        torch.set_num_threads(1)
        try:
            pipeline.train_encoders(run, pipeline.prepare(run))
        finally:
            torch.set_num_threads(threads)
        out[allowed] = {e: (load_result(run.results_dir / f"train.{e}.json",
                                        TrainResult).history.train,
                            torch.load(run.results_dir / f"{e}.pt",
                                       weights_only=True)["state_dict"])
                        for e in ("q1", "q4")}
    assert spawned == [2]       # two workers for the first run, none for the second
    for encoder in ("q1", "q4"):
        (history, weights), (history_in_turn, weights_in_turn) = (out[True][encoder],
                                                                  out[False][encoder])
        assert history == history_in_turn
        assert weights.keys() == weights_in_turn.keys()
        assert all(torch.equal(weights[k], weights_in_turn[k]) for k in weights)
