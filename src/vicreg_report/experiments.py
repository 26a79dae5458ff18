"""Every stage after the representations, declared as specs: probes (Q3), maps (Q2, Q4),
Laplacian Eigenmaps (Q6), retrieval (Q7), anomalies and clustering.

Each ``Spec`` names its stage, its result type, the keys of the representations
it reads and a ``compute`` that reads them only when called; the stage engine
(stages.py) reuses, computes and saves them, side by side where it can.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import ENCODERS
from .data import balanced_subset, study_subsets
from .results import ProbeResult
from .stages import Spec

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


def specs(run, study) -> list[Spec]:
    """Every probe and experiment stage of the study, the slowest kinds first."""
    return [*laplacian(run, study), *maps(run, study), *clustering(run, study),
            *probes(run, study), *retrieval(run, study), *anomalies(run, study)]


def probes(run, study) -> list[Spec]:
    """Q3: a linear probe on each encoder's frozen train representations, scored on test."""
    from .probe import fit_linear_probe

    d, p = study.data, run.profile
    train_idx, test_idx = study_subsets(p, d)

    def compute(encoder):
        reps = study.reps[encoder]
        fit = fit_linear_probe(reps.train, d.train_y[train_idx], reps.test, d.test_y[test_idx],
                               p.probe_epochs, p.probe_lr, p.probe_batch_size, p.seed)
        settings = {"epochs": p.probe_epochs, "lr": p.probe_lr,
                    "batch_size": p.probe_batch_size, "optimizer": "Adam",
                    "standardized": True, "train_images": len(train_idx),
                    "test_images": len(test_idx)}
        return ProbeResult(encoder=encoder, settings=settings, **fit)
    return [Spec(f"probe:{e}", ProbeResult, lambda e=e: compute(e), (study.reps[e].key,))
            for e in ENCODERS]


def maps(run, study) -> list[Spec]:
    """PCA and t-SNE of the test representations; separation and collapse measures."""
    from .embedding2d import Embedding2DResult, analyse

    d, p = study.data, run.profile
    _, test_idx = study_subsets(p, d)

    def compute(encoder):
        return analyse(study.reps[encoder].test, d.test_y[test_idx], d.classes, encoder, p.seed,
                       p.tsne_points)
    return [Spec(f"embedding2d:{e}", Embedding2DResult, lambda e=e: compute(e),
                 (study.reps[e].key,), arrays=True) for e in MAP_ENCODERS]


def laplacian(run, study) -> list[Spec]:
    """Q6: Laplacian Eigenmaps (raw pixels, random-CNN features) and the encoders on the
    same images."""
    from .embedding2d import tsne_2d
    from .laplacian import LaplacianResult, run_variant, stratified_probe

    d, p = study.data, run.profile
    train_idx, _ = study_subsets(p, d)
    images_idx = balanced_subset(d.train_y, p.laplacian_images)
    labels = d.train_y[images_idx]
    positions = np.searchsorted(train_idx, images_idx)  # the same images among the train reps

    def variant(name):
        result, codes = run_variant(
            d.train_x[images_idx], labels, name, seed=p.seed,
            n_components=p.laplacian_components, n_neighbors=p.laplacian_neighbors,
            epochs=p.probe_epochs, lr=p.probe_lr, batch_size=p.probe_batch_size)
        return result, {"tsne": tsne_2d(codes, p.seed), "labels": labels}

    def encoder(name):
        reps = study.reps[name].train[positions]
        fit = stratified_probe(reps, labels, p.seed, p.probe_epochs, p.probe_lr,
                               p.probe_batch_size)
        return SplitProbeResult(**fit), {"tsne": tsne_2d(reps, p.seed), "labels": labels}

    return [*(Spec(f"laplacian:{v}", LaplacianResult, lambda v=v: variant(v), arrays=True,
                   settings=LAPLACIAN_SETTINGS) for v in ("random_cnn", "raw_pixels")),
            *(Spec(f"laplacian:{e}", SplitProbeResult, lambda e=e: encoder(e),
                   (study.reps[e].key,), arrays=True) for e in ("q1", "random_init"))]


def retrieval(run, study) -> list[Spec]:
    """Q7: nearest and most distant train images of one query per class; class mixing."""
    from .neighbours import knn
    from .retrieval import RetrievalSummary, colour_summary, label_mixing, pick_queries, retrieve

    d, p = study.data, run.profile
    train_idx, _ = study_subsets(p, d)
    labels = d.train_y[train_idx]
    queries = pick_queries(labels, p.seed)

    def compute(encoder):
        reps = study.reps[encoder].train
        found = retrieve(reps, queries, p.retrieval_k)
        _, every = knn(reps, reps, MIXING_K, exclude_self=True)
        return RetrievalSummary(
            retrieval=found,
            mixing=label_mixing(labels, np.arange(len(labels)), every, d.classes),
            colour=colour_summary(d.train_x[train_idx], found))
    return [Spec(f"retrieval:{e}", RetrievalSummary, lambda e=e: compute(e),
                 (study.reps[e].key,)) for e in RETRIEVAL_ENCODERS]


def anomalies(run, study) -> list[Spec]:
    """CIFAR-10 test (normal) against MNIST test (anomalies): kNN distance to the train bank."""
    from .anomaly import AnomalyResult, evaluate_anomaly

    d, p = study.data, run.profile

    def compute(encoder):
        reps = study.reps[encoder]
        return evaluate_anomaly(reps.train, reps.test, reps.mnist, p.anomaly_k, p.anomaly_top,
                                d.mnist_y)
    return [Spec(f"anomaly:{e}", AnomalyResult, lambda e=e: compute(e), (study.reps[e].key,))
            for e in EVAL_ENCODERS]


def clustering(run, study) -> list[Spec]:
    """KMeans on the train representations; t-SNE of a sample with the centres for the figure."""
    from .clustering import ClusteringResult, cluster
    from .embedding2d import tsne_2d

    d, p = study.data, run.profile
    train_idx, _ = study_subsets(p, d)
    labels = d.train_y[train_idx]
    sample = np.sort(np.random.default_rng(p.seed).permutation(len(labels))[:p.tsne_points])

    def compute(encoder):
        reps = study.reps[encoder].train
        result = cluster(reps, labels, p.clusters, p.seed, p.silhouette_sample)
        centres = np.asarray(result.centres, np.float32)
        coords = tsne_2d(np.concatenate([reps[sample], centres]), p.seed)
        return result, {"tsne": coords[:len(sample)], "centres": coords[len(sample):],
                        "sample": sample}
    return [Spec(f"clustering:{e}", ClusteringResult, lambda e=e: compute(e),
                 (study.reps[e].key,), arrays=True) for e in EVAL_ENCODERS]
