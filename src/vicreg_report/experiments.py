"""Every experiment after training (Q2, Q4 maps, Q6, Q7, anomalies, clustering), cached.

Each runs through ``pipeline.experiment``: its result and arrays are saved under
``build/results/<profile>/`` with provenance and reused while its key holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .pipeline import ENCODERS, Run, Study, experiment, subsets

MAP_ENCODERS = ENCODERS                    # Q2 (q1), Q4 (q4), and the others for the tables
RETRIEVAL_ENCODERS = ("q1", "q5")
EVAL_ENCODERS = ("q1", "q5", "random_init")  # anomalies and clustering, with the control
MIXING_K = 5
LAPLACIAN_SETTINGS = ("laplacian_images", "laplacian_components", "laplacian_neighbors",
                      "probe_epochs", "probe_lr", "probe_batch_size", "seed")


@dataclass
class SplitProbeResult:
    """An encoder probed on Q6's images with Q6's stratified 90/10 split."""

    train_acc: float
    test_acc: float
    per_class_test_acc: list[float]
    train_size: int
    test_size: int
    train_class_counts: list[int]
    test_class_counts: list[int]
    settings: dict


def run_all(run: Run, study: Study) -> None:
    maps(run, study)
    laplacian(run, study)
    retrieval(run, study)
    anomalies(run, study)
    clustering(run, study)


def _store(study: Study, stage: str, out) -> None:
    study.results[stage], study.arrays[stage] = out


def maps(run: Run, study: Study) -> None:
    """PCA and t-SNE of the test representations; separation and collapse measures."""
    from .embedding2d import Embedding2DResult, analyse

    d, p = study.data, run.profile
    _, test_idx = subsets(run, d)
    for enc in MAP_ENCODERS:
        reps = study.reps[enc]
        _store(study, f"embedding2d:{enc}", experiment(
            run, d, f"embedding2d:{enc}", Embedding2DResult, [reps.key],
            lambda: analyse(reps.test, d.test_y[test_idx], d.classes, enc, p.seed,
                            p.tsne_points), arrays=True))


def laplacian(run: Run, study: Study) -> None:
    """Q6: Laplacian Eigenmaps (raw pixels, random-CNN features) and the encoders on the same images."""
    from .data import balanced_subset
    from .embedding2d import tsne_2d
    from .laplacian import LaplacianResult, run_variant, stratified_probe

    d, p = study.data, run.profile
    train_idx, _ = subsets(run, d)
    images_idx = balanced_subset(d.train_y, p.laplacian_images)
    labels = d.train_y[images_idx]
    for variant in ("raw_pixels", "random_cnn"):
        def compute(variant=variant):
            result, codes = run_variant(
                d.train_x[images_idx], labels, variant, seed=p.seed,
                n_components=p.laplacian_components, n_neighbors=p.laplacian_neighbors,
                epochs=p.probe_epochs, lr=p.probe_lr, batch_size=p.probe_batch_size)
            return result, {"tsne": tsne_2d(codes, p.seed), "labels": labels}
        _store(study, f"laplacian:{variant}", experiment(
            run, d, f"laplacian:{variant}", LaplacianResult, [], compute, arrays=True,
            settings=LAPLACIAN_SETTINGS))
    positions = np.searchsorted(train_idx, images_idx)  # the same images among the train reps
    for enc in ("q1", "random_init"):
        reps = study.reps[enc].train[positions]
        _store(study, f"laplacian:{enc}", experiment(
            run, d, f"laplacian:{enc}", SplitProbeResult, [study.reps[enc].key],
            lambda reps=reps: (SplitProbeResult(**stratified_probe(
                reps, labels, p.seed, p.probe_epochs, p.probe_lr, p.probe_batch_size)),
                {"tsne": tsne_2d(reps, p.seed), "labels": labels}),
            arrays=True))


def retrieval(run: Run, study: Study) -> None:
    """Q7: nearest and most distant train images of one query per class; class mixing."""
    from .neighbours import knn
    from .retrieval import RetrievalSummary, colour_summary, label_mixing, pick_queries, retrieve

    d, p = study.data, run.profile
    train_idx, _ = subsets(run, d)
    labels, images = d.train_y[train_idx], d.train_x[train_idx]
    queries = pick_queries(labels, p.seed)
    for enc in RETRIEVAL_ENCODERS:
        reps = study.reps[enc].train

        def compute(reps=reps):
            found = retrieve(reps, queries, p.retrieval_k)
            _, every = knn(reps, reps, MIXING_K, exclude_self=True)
            return RetrievalSummary(
                retrieval=found,
                mixing=label_mixing(labels, np.arange(len(labels)), every, d.classes),
                colour=colour_summary(images, found))
        _store(study, f"retrieval:{enc}", experiment(
            run, d, f"retrieval:{enc}", RetrievalSummary, [study.reps[enc].key], compute))


def anomalies(run: Run, study: Study) -> None:
    """CIFAR-10 test (normal) against MNIST test (anomalies): kNN distance to the train bank."""
    from .anomaly import AnomalyResult, evaluate_anomaly

    d, p = study.data, run.profile
    for enc in EVAL_ENCODERS:
        reps = study.reps[enc]
        _store(study, f"anomaly:{enc}", experiment(
            run, d, f"anomaly:{enc}", AnomalyResult, [reps.key],
            lambda reps=reps: evaluate_anomaly(reps.train, reps.test, reps.mnist, p.anomaly_k,
                                               p.anomaly_top, d.mnist_y)))


def clustering(run: Run, study: Study) -> None:
    """KMeans on the train representations; t-SNE of a sample with the centres for the figure."""
    from .clustering import ClusteringResult, cluster
    from .embedding2d import tsne_2d

    d, p = study.data, run.profile
    train_idx, _ = subsets(run, d)
    labels = d.train_y[train_idx]
    sample = np.sort(np.random.default_rng(p.seed).permutation(len(labels))[:p.tsne_points])
    for enc in EVAL_ENCODERS:
        reps = study.reps[enc].train

        def compute(reps=reps):
            result = cluster(reps, labels, p.clusters, p.seed, p.silhouette_sample)
            centres = np.asarray(result.centres, np.float32)
            coords = tsne_2d(np.concatenate([reps[sample], centres]), p.seed)
            return result, {"tsne": coords[:len(sample)], "centres": coords[len(sample):],
                            "sample": sample}
        _store(study, f"clustering:{enc}", experiment(
            run, d, f"clustering:{enc}", ClusteringResult, [study.reps[enc].key], compute,
            arrays=True))
