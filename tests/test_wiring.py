"""Wiring: which arrays each stage hands to the next, every setting read from the profile,
the study's constants as STUDY.md states them, and stage keys that follow their settings."""

import dataclasses

import numpy as np
import pytest

from vicreg_report import augment, experiments, pipeline, stages
from vicreg_report.config import FULL, SMOKE, encoder_profile
from vicreg_report.data import study_subsets, synthetic
from vicreg_report.representations import Reps


def fake_study(profile=SMOKE, dims=8):
    """The smoke data with made-up representations (distinct per encoder and split)."""
    d = synthetic(profile.seed, profile.train_images, profile.test_images)
    train_idx, test_idx = study_subsets(profile, d)
    rng = np.random.default_rng(0)
    reps = {}
    for i, enc in enumerate(("q1", "q4", "q5", "random_init")):
        arrays = {"train": rng.normal(i, 1, (len(train_idx), dims)).astype(np.float32),
                  "test": rng.normal(-i, 1, (len(test_idx), dims)).astype(np.float32),
                  "mnist": rng.normal(5, 1, (len(d.mnist_x), dims)).astype(np.float32)}
        reps[enc] = Reps(f"key-{enc}", "unused.npz", None, arrays)
    return pipeline.Study(d, {}, reps)


def test_the_probe_fits_on_train_representations_and_scores_on_test_ones(monkeypatch):
    import vicreg_report.probe as probe_module

    calls = []
    real = probe_module.fit_linear_probe
    monkeypatch.setattr(probe_module, "fit_linear_probe",
                        lambda *a, **k: calls.append(a) or real(*a, **k))
    p = SMOKE.replace(probe_l2=0.25)
    study = fake_study(p)
    run = pipeline.Run(p, show_progress=False)
    spec = next(s for s in experiments.probe.stages(run, study) if s.name == "probe:q5")
    spec.compute()
    train_idx, test_idx = study_subsets(p, study.data)
    reps = study.reps["q5"]
    for fit_x, fit_y, score_x, score_y, l2 in calls:
        assert fit_x is reps.train and score_x is reps.test
        assert np.array_equal(fit_y, study.data.train_y[train_idx])
        assert np.array_equal(score_y, study.data.test_y[test_idx])
        assert l2 == 0.25
    assert len(calls) == 1


def test_q5_neighbours_never_include_the_image_itself_even_beside_its_copies():
    rng = np.random.default_rng(1)
    train = rng.normal(size=(60, 4)).astype(np.float32)
    train[10:20] = train[0]                     # eleven identical images
    reps = Reps("k", "unused.npz", None, {"train": train})
    run = pipeline.Run(SMOKE.replace(q5_neighbours=3), show_progress=False)
    table = pipeline.q5_neighbours(run, reps)
    assert table.shape == (60, 3)
    assert not (table == np.arange(60)[:, None]).any()
    assert set(table[0]) <= set(range(10, 20))  # its copies are its nearest neighbours


@pytest.fixture(scope="module")
def unusual(tmp_path_factory):
    """The smoke study with every experiment setting away from its default."""
    mp = pytest.MonkeyPatch()
    mp.setenv("VICREG_BUILD_DIR", str(tmp_path_factory.mktemp("build")))
    p = SMOKE.replace(anomaly_k=3, anomaly_top=5, retrieval_k=4, clusters=6, q5_neighbours=2,
                      tsne_points=100, silhouette_sample=50, laplacian_images=120,
                      laplacian_neighbors=7, laplacian_max_components=4, probe_l2=0.5,
                      encode_size=16)
    sizes = []                                  # the input size of every encoding
    real_encode = pipeline.encode
    mp.setattr(pipeline, "encode", lambda *a, **k: sizes.append(k.get("size")) or
               real_encode(*a, **k))
    run = pipeline.Run(p, show_progress=False, workers=1)
    study = pipeline.run_study(run)
    yield p, study, sizes
    mp.undo()


def test_every_experiment_setting_comes_from_the_profile(unusual):
    p, study, sizes = unusual
    assert sizes and set(sizes) == {16}       # every representation from 16x16 images
    r = {stage: record.result for stage, record in study.results.items()}
    assert (r["anomaly:q1"].k, r["anomaly:q1"].top) == (3, 5)
    assert {len(row) for row in r["retrieval:q5"].retrieval.nearest} == {4}
    assert r["clustering:q1"].n_clusters == 6
    assert r["clustering:q1"].silhouette_sample_size == 50
    assert r["embedding2d:q4"].n_points == 100
    lap = r["laplacian:raw_pixels"]
    assert (lap.n_images, lap.n_neighbors, lap.components_tried) == (120, 7, [2, 4])
    assert lap.probe_settings["l2"] == 0.5
    assert study.probes["q1"].result.settings["l2"] == 0.5
    assert sum(lap.split_sizes.values()) == 120


def test_every_interval_holds_its_difference_or_is_the_difference(unusual):
    """A comparison's interval is computed from its own two metrics (a closure bound to
    the wrong array gives an empty interval away from the difference)."""
    _, study, _ = unusual
    for name, c in study.results["comparisons"].result.comparisons.items():
        if c.low == c.high:
            assert c.low == pytest.approx(c.diff, abs=1e-12), name
        assert c.diff == pytest.approx(c.a - c.b), name


def test_the_study_constants_are_study_md_s():
    """STUDY.md, "Fixed setup": the augmentation, the loss, the optimiser, the model."""
    assert augment.MEAN == (0.4914, 0.4822, 0.4465) and augment.STD == (0.247, 0.243, 0.261)
    assert augment.CROP_SCALE == (0.2, 1.0) and augment.FLIP_P == 0.5
    assert (augment.BRIGHTNESS, augment.CONTRAST, augment.SATURATION, augment.HUE) == \
        (0.4, 0.4, 0.2, 0.1)
    assert augment.GRAYSCALE_P == 0.2 and augment.BLUR_P == 0.5
    assert (FULL.lam, FULL.mu, FULL.nu, FULL.gamma, FULL.eps) == (25.0, 25.0, 1.0, 1.0, 1e-4)
    assert (FULL.lr, FULL.beta1, FULL.beta2, FULL.weight_decay) == (3e-4, 0.9, 0.999, 1e-6)
    assert (FULL.batch_size, FULL.epochs, FULL.train_images, FULL.test_images) == \
        (256, 30, 50_000, 10_000)
    assert (FULL.arch, FULL.embed_dim, FULL.proj_dim) == ("resnet18", 128, 512)
    assert (FULL.q5_neighbours, FULL.q5_epochs, FULL.laplacian_images) == (3, 1, 10_000)
    assert (FULL.anomaly_k, FULL.anomaly_top, FULL.retrieval_k, FULL.clusters) == (2, 7, 5, 10)
    assert encoder_profile(FULL, "q4").mu == 0.0 and encoder_profile(FULL, "q5").mu == 25.0


def test_the_gaussian_blur_kernel_is_three_wide():
    x = np.zeros((1, 3, 9, 9), np.float32)
    x[0, :, 4, 4] = 1.0
    import torch

    out = augment.gaussian_blur(torch.from_numpy(x), torch.tensor([1.0])).numpy()
    assert (out[0, 0] > 1e-9).sum() == 9 and out[0, 0, 3:6, 3:6].min() > 0


# ---------------------------------------------------------------- stage keys

def keys(profile):
    """The key of every stage of the study for ``profile`` (made-up representations)."""
    study = fake_study(profile)
    run = pipeline.Run(profile, show_progress=False)
    out = {spec.name: spec.key(profile, "fingerprint")
           for spec in experiments.specs(run, study)}
    for enc in ("q1", "q4", "q5"):
        out[f"train:{enc}"] = pipeline._train_stage(run, study.data, enc)[1]
    return out


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(SMOKE)])
def test_every_stage_key_changes_with_every_setting_it_reads(field):
    base = SMOKE
    value = getattr(base, field)
    changed = base.replace(**{field: value + "x" if isinstance(value, str) else value * 2 + 1})
    before, after = keys(base), keys(changed)
    for stage in before:
        reads = field in experiments.laplacian.SETTINGS if stage in (
            "laplacian:raw_pixels", "laplacian:random_cnn") else \
            field != "mu" if stage == "train:q4" else True     # Q4 is trained with mu = 0
        assert (before[stage] != after[stage]) == reads, (stage, field)


def test_a_stage_key_changes_with_the_module_it_runs(monkeypatch):
    before = keys(SMOKE)
    real = stages.module_hash
    monkeypatch.setattr(stages, "module_hash",
                        lambda name: "changed" if name == "anomaly" else real(name))
    after = keys(SMOKE)
    assert {s for s in before if before[s] != after[s]} == {
        "anomaly:q1", "anomaly:q5", "anomaly:random_init"}
