"""Clustering: KMeans on the train representations against the classes; a t-SNE of a
sample with the cluster centres for the figure."""

from __future__ import annotations

import numpy as np

from ..data import study_subsets
from ..uncertainty import Metric, Population, mean_of
from .base import Experiment, each

ENCODERS = ("q1", "q5", "random_init")
DRAWN = ("q1", "q5")                    # the figure's maps, side by side
METRICS = (
    *each("silhouette", "clustering", ("silhouette",), "score", ENCODERS,
          ("clustering", "{}", "silhouette")),
    *each("ari", "clustering", ("adjusted_rand_index",), "score", ENCODERS,
          ("clustering", "{}", "ari")),
    *each("nmi", "clustering", ("normalized_mutual_info",), "score", ENCODERS,
          ("clustering", "{}", "nmi")),
)


def stages(run, study) -> list:
    from ..clustering import ClusteringResult, cluster
    from ..embedding2d import tsne_2d
    from ..stages import Spec

    d, p = study.data, run.profile
    train_idx, _ = study_subsets(p, d)
    labels = d.train_y[train_idx]
    sample = np.sort(np.random.default_rng(p.seed).permutation(len(labels))[:p.tsne_points])

    def compute(encoder):
        reps = study.reps[encoder].train
        result, silhouettes = cluster(reps, labels, p.clusters, p.seed, p.silhouette_sample)
        if encoder not in DRAWN:    # a t-SNE only for the maps the figure shows
            return result, silhouettes
        centres = np.asarray(result.centres, np.float32)
        coords = tsne_2d(np.concatenate([reps[sample], centres]), p.seed)
        return result, {"tsne": coords[:len(sample)], "centres": coords[len(sample):],
                        "sample": sample, **silhouettes}
    return [Spec(f"clustering:{e}", ClusteringResult, lambda e=e: compute(e),
                 (study.reps[e].key,), arrays=True) for e in ENCODERS]


def build(run, study) -> dict:
    out = {}
    for enc in ENCODERS:
        c = study.results[f"clustering:{enc}"].result
        out[enc] = {"silhouette": c.silhouette, "ari": c.adjusted_rand_index,
                    "nmi": c.normalized_mutual_info, "sample": c.silhouette_sample_size,
                    "dimensions": c.dimensions}
        out["clusters"] = c.n_clusters
    return {"clustering": out}


def draw(run, study, paths) -> None:
    from ..figures import clusters_and_classes

    d = study.data
    train_idx, _ = study_subsets(run.profile, d)
    panels = {}
    for enc in DRAWN:
        a, r = study.arrays[f"clustering:{enc}"], study.results[f"clustering:{enc}"].result
        sample = a["sample"]
        panels[enc] = (a["tsne"], np.asarray(r.assignments)[sample],
                       d.train_y[train_idx][sample], a["centres"])
    clusters_and_classes(panels, d.classes, paths["figure"])


def measures(m: dict, run, study) -> None:
    """The silhouette over its sample; ARI and NMI recomputed on resampled train images."""
    from ..clustering import (adjusted_rand_from_tables, contingency_tables,
                              normalized_mutual_info_from_tables)

    d = study.data
    train_idx, _ = study_subsets(run.profile, d)
    train_y = d.train_y[train_idx]
    for enc in ENCODERS:
        a, c = study.arrays[f"clustering:{enc}"], study.results[f"clustering:{enc}"].result
        m[f"silhouette_{enc}"] = mean_of(a["silhouette_values"], Population(
            "silhouette sample", (len(a["silhouette_values"]),)))
        assigned = np.asarray(c.assignments)
        points = Population("train images", (len(train_y),))
        m[f"ari_{enc}"] = Metric(c.adjusted_rand_index, points, lambda idx, z=assigned:
                                 adjusted_rand_from_tables(contingency_tables(train_y, z, idx)),
                                 slow=True)
        m[f"nmi_{enc}"] = Metric(c.normalized_mutual_info, points, lambda idx, z=assigned:
                                 normalized_mutual_info_from_tables(
                                     contingency_tables(train_y, z, idx)), slow=True)


def pairs(n_classes: int) -> dict:
    return {"silhouette_q5_vs_q1": ("silhouette_q5", "silhouette_q1"),
            **{f"silhouette_{e}_vs_random_init": (f"silhouette_{e}", "silhouette_random_init")
               for e in ("q1", "q5")},
            "silhouette_q1_vs_original": ("silhouette_q1", "original_silhouette_q1"),
            "ari_q5_vs_q1": ("ari_q5", "ari_q1"), "nmi_q5_vs_q1": ("nmi_q5", "nmi_q1"),
            "ari_q1_vs_random_init": ("ari_q1", "ari_random_init")}


def summary(ctx: dict, row) -> list:
    cl, o = ctx["clustering"], ctx["original"]
    return [row(f"silhouette_{e}", "score", cl[e]["silhouette"], cl["random_init"]["silhouette"],
                o[f"silhouette_{e}"], f"silhouette_{e}", "silhouette_random_init",
                f"silhouette_{e}_vs_random_init") for e in ("q1", "q5")]


EXAMPLE = {"clustering": {
    "figure": "figures/clustering_tsne.png", "clusters": 10,
    "q1": {"silhouette": 0.0712, "ari": 0.2134, "nmi": 0.3312, "sample": 5_000,
           "dimensions": 128},
    "q5": {"silhouette": 0.1288, "ari": 0.1534, "nmi": 0.2687, "sample": 5_000,
           "dimensions": 128},
    "random_init": {"silhouette": 0.0523, "ari": 0.0812, "nmi": 0.1523, "sample": 5_000,
                    "dimensions": 128},
}}

EXPERIMENT = Experiment(
    name="clustering", section="clustering", build=build, example=EXAMPLE,
    shows=("clustering",), stages=stages, modules=("clustering", "embedding2d"), cost=60,
    metrics=METRICS, figures={"figure": "clustering_tsne.png"}, draw=draw, measures=measures,
    pairs=pairs, summary=summary)
