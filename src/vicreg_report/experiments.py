"""Every stage after the representations, declared as specs: probes (Q3), maps (Q2, Q4),
Laplacian Eigenmaps (Q6), retrieval (Q7), anomalies and clustering.

Each ``Spec`` names its stage, its result type, the keys of the representations
it reads and a ``compute`` that reads them only when called; the stage engine
(stages.py) reuses, computes and saves them, side by side where it can.
"""

from __future__ import annotations


import numpy as np

from .config import ENCODERS
from .data import balanced_subset, study_subsets
from .probe import ProbeResult
from .stages import Spec

MAP_ENCODERS = ENCODERS                    # Q2 (q1), Q4 (q4), and the others for the tables
RETRIEVAL_ENCODERS = ("q1", "q5")
EVAL_ENCODERS = ("q1", "q5", "random_init")  # anomalies and clustering, with the control
MIXING_K = 5
LAPLACIAN_SETTINGS = ("laplacian_images", "laplacian_max_components", "laplacian_neighbors",
                      "probe_epochs", "probe_lr", "probe_batch_size", "seed")


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
        plain, standardized = (
            fit_linear_probe(reps.train, d.train_y[train_idx], reps.test, d.test_y[test_idx],
                             p.probe_epochs, p.probe_lr, p.probe_batch_size, p.seed, variant)
            for variant in (False, True))
        settings = {"epochs": p.probe_epochs, "lr": p.probe_lr,
                    "batch_size": p.probe_batch_size, "optimizer": "Adam",
                    "train_images": len(train_idx), "test_images": len(test_idx)}
        result = ProbeResult(
            encoder=encoder, test_acc=plain["test_acc"], train_acc=plain["train_acc"],
            per_class_test_acc=plain["per_class_test_acc"],
            standardized_test_acc=standardized["test_acc"],
            standardized_train_acc=standardized["train_acc"],
            standardized_per_class_test_acc=standardized["per_class_test_acc"],
            test_class_counts=np.bincount(d.test_y[test_idx],
                                          minlength=len(d.classes)).tolist(),
            feature_std=float(reps.train.std(0).mean()), settings=settings)
        return result, {"train_pred": plain["train_pred"].astype(np.int16),
                        "test_pred": plain["test_pred"].astype(np.int16),
                        "standardized_test_pred": standardized["test_pred"].astype(np.int16)}
    return [Spec(f"probe:{e}", ProbeResult, lambda e=e: compute(e), (study.reps[e].key,),
                 arrays=True) for e in ENCODERS]


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
    from .laplacian import LaplacianResult, SplitProbeResult, run_variant, split_probe, \
        stratified_split

    d, p = study.data, run.profile
    train_idx, _ = study_subsets(p, d)
    images_idx = balanced_subset(d.train_y, p.laplacian_images)
    labels = d.train_y[images_idx]
    positions = np.searchsorted(train_idx, images_idx)  # the same images among the train reps

    def variant(name):
        result, arrays = run_variant(
            d.train_x[images_idx], labels, name, seed=p.seed,
            most_components=p.laplacian_max_components, n_neighbors=p.laplacian_neighbors,
            epochs=p.probe_epochs, lr=p.probe_lr, batch_size=p.probe_batch_size)
        return result, {"tsne": tsne_2d(arrays.pop("codes"), p.seed), "labels": labels,
                        **arrays}

    def encoder(name):
        reps = study.reps[name].train[positions]
        split = stratified_split(labels, p.seed)
        (plain, pred), (standardized, _) = (
            split_probe(reps, labels, split, p.probe_epochs, p.probe_lr, p.probe_batch_size,
                        p.seed, variant) for variant in (False, True))
        result = SplitProbeResult(probe=plain, standardized_probe=standardized,
                                  split_sizes={k: len(v) for k, v in split.items()},
                                  test_class_counts=np.bincount(
                                      labels[split["test"]], minlength=len(d.classes)).tolist())
        return result, {"tsne": tsne_2d(reps, p.seed), "labels": labels,
                        "test": split["test"], "test_pred": pred}   # the study's probe

    return [*(Spec(f"laplacian:{v}", LaplacianResult, lambda v=v: variant(v), arrays=True,
                   settings=LAPLACIAN_SETTINGS) for v in ("random_cnn", "raw_pixels")),
            *(Spec(f"laplacian:{e}", SplitProbeResult, lambda e=e: encoder(e),
                   (study.reps[e].key,), arrays=True) for e in ("q1", "random_init"))]


def retrieval(run, study) -> list[Spec]:
    """Q7: nearest and most distant train images of one query per class; class mixing."""
    from .neighbours import knn
    from .retrieval import RetrievalSummary, colour_summary, label_mixing, pick_queries, \
        retrieve, saturation

    d, p = study.data, run.profile
    train_idx, _ = study_subsets(p, d)
    labels = d.train_y[train_idx]
    queries = pick_queries(labels, p.seed)

    def compute(encoder):
        reps = study.reps[encoder].train
        found = retrieve(reps, queries, p.retrieval_k)
        _, every = knn(reps, reps, MIXING_K, exclude_self=True)
        images = d.train_x[train_idx]
        summary = RetrievalSummary(
            retrieval=found,
            mixing=label_mixing(labels, np.arange(len(labels)), every, d.classes),
            colour=colour_summary(images, found))
        return summary, {"neighbours": every.astype(np.int32),
                         "farthest_saturation": saturation(
                             images[np.asarray(found.farthest).ravel()]).reshape(
                                 len(queries), -1)}
    return [Spec(f"retrieval:{e}", RetrievalSummary, lambda e=e: compute(e),
                 (study.reps[e].key,), arrays=True) for e in RETRIEVAL_ENCODERS]


def anomalies(run, study) -> list[Spec]:
    """CIFAR-10 test (normal) against MNIST test (anomalies): kNN distance to the train bank."""
    from .anomaly import AnomalyResult, evaluate_anomaly

    d, p = study.data, run.profile

    def compute(encoder):
        reps = study.reps[encoder]
        return evaluate_anomaly(reps.train, reps.test, reps.mnist, p.anomaly_k, p.anomaly_top,
                                d.mnist_y)
    return [Spec(f"anomaly:{e}", AnomalyResult, lambda e=e: compute(e), (study.reps[e].key,),
                 arrays=True) for e in EVAL_ENCODERS]


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
        result, silhouettes = cluster(reps, labels, p.clusters, p.seed, p.silhouette_sample)
        centres = np.asarray(result.centres, np.float32)
        coords = tsne_2d(np.concatenate([reps[sample], centres]), p.seed)
        return result, {"tsne": coords[:len(sample)], "centres": coords[len(sample):],
                        "sample": sample, **silhouettes}
    return [Spec(f"clustering:{e}", ClusteringResult, lambda e=e: compute(e),
                 (study.reps[e].key,), arrays=True) for e in EVAL_ENCODERS]


def comparisons(run, study) -> Spec:
    """Every comparison the document words, with its interval: after all of the above."""
    from .comparisons import ComparisonsResult, compare_all

    read = [*study.trained.values(), *study.probes.values(), *study.results.values()]
    inputs = (*(r.provenance.stage_key for r in read), study.reps["q1"].key,
              study.reps["q4"].key)
    return Spec("comparisons", ComparisonsResult, lambda: compare_all(run, study), inputs)
