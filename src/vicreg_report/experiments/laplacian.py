"""Q6: Laplacian Eigenmaps on raw pixels and on random-CNN features, probed; the encoders
probed on the same images and the same stratified split."""

from __future__ import annotations

import numpy as np

from ..data import balanced_subset, study_subsets
from ..errors import VicregError
from ..uncertainty import Population, exact, mean_of
from .base import Experiment, each

VARIANTS = ("raw_pixels", "random_cnn")    # the graphs; their stages read no encoder
ENCODERS = ("q1", "random_init")           # probed on the same images
DRAWN = ("q1",)                             # its map beside the graphs' maps
MAP_TITLES = {"raw_pixels": "Laplacian Eigenmaps, raw pixels",
              "random_cnn": "Laplacian Eigenmaps, random CNN",
              "q1": "Q1 VICReg representations"}
# The profile fields the variants' keys cover (they read no representations).
SETTINGS = ("laplacian_images", "laplacian_max_components", "laplacian_neighbors",
            "probe_l2", "seed")
CHANCE = 0.1                  # ten balanced classes
METRICS = tuple(each("q6", "laplacian", ("probe", "test_acc"), "percent",
                     ("raw_pixels", "random_cnn", "q1", "random_init"),
                     ("q6", "{}", "test_acc")))


def stages(run, study) -> list:
    from ..embedding2d import tsne_2d
    from ..laplacian import LaplacianResult, SplitProbeResult, run_variant, split_probe, \
        stratified_split
    from ..stages import Spec

    d, p = study.data, run.profile
    train_idx, _ = study_subsets(p, d)
    images_idx = balanced_subset(d.train_y, p.laplacian_images)
    labels = d.train_y[images_idx]
    positions = np.searchsorted(train_idx, images_idx)  # the same images among the train reps

    def variant(name):
        result, arrays = run_variant(
            d.train_x[images_idx], labels, name, seed=p.seed,
            most_components=p.laplacian_max_components, n_neighbors=p.laplacian_neighbors,
            l2=p.probe_l2)
        return result, {"tsne": tsne_2d(arrays.pop("codes"), p.seed), "labels": labels,
                        **arrays}

    def encoder(name):
        reps = study.reps[name].train[positions]
        split = stratified_split(labels, p.seed)
        probe, pred = split_probe(reps, labels, split, p.probe_l2)
        result = SplitProbeResult(probe=probe, split_sizes={k: len(v) for k, v in split.items()},
                                  test_class_counts=np.bincount(
                                      labels[split["test"]], minlength=len(d.classes)).tolist())
        arrays = {"labels": labels, "test": split["test"], "test_pred": pred}
        if name in DRAWN:       # a t-SNE only for the maps the figure shows
            arrays["tsne"] = tsne_2d(reps, p.seed)
        return result, arrays

    return [*(Spec(f"laplacian:{v}", LaplacianResult, lambda v=v: variant(v), arrays=True,
                   settings=SETTINGS) for v in ("random_cnn", "raw_pixels")),
            *(Spec(f"laplacian:{e}", SplitProbeResult, lambda e=e: encoder(e),
                   (study.reps[e].key,), arrays=True) for e in ENCODERS)]


def _split_probes(r) -> dict:
    return {"test_acc": r.probe.test_acc, "train_acc": r.probe.train_acc,
            "val_acc": r.probe.val_acc}


def build(run, study) -> dict:
    res = {name: study.results[f"laplacian:{name}"].result for name in (*VARIANTS, *ENCODERS)}
    raw = res["raw_pixels"]
    return {"q6": {
        "images": raw.n_images, "neighbors": raw.n_neighbors, "tried": raw.components_tried,
        "fit_size": raw.split_sizes["fit"], "val_size": raw.split_sizes["val"],
        "test_size": raw.split_sizes["test"], "chance": 1.0 / len(raw.test_class_counts),
        **{v: {**_split_probes(res[v]), "components": res[v].n_components,
               "graph_components": res[v].graph_components,
               "feature_dim": res[v].feature_dim}
           for v in VARIANTS},
        **{e: _split_probes(res[e]) for e in ENCODERS},
    }}


def draw(run, study, paths) -> None:
    from ..figures import eigenvector_sweep, maps_side_by_side

    arrays, classes = study.arrays, study.data.classes
    maps_side_by_side([(arrays[f"laplacian:{v}"]["tsne"], arrays[f"laplacian:{v}"]["labels"],
                        MAP_TITLES[v]) for v in (*VARIANTS, *DRAWN)], classes, paths["figure"])
    eigenvector_sweep({v: study.results[f"laplacian:{v}"].result for v in VARIANTS},
                      1 / len(classes), paths["figure_sweep"])


def measures(m: dict, run, study) -> None:
    """Each probe's accuracy over the shared test images; the better of the two graphs."""
    labels = study.arrays["laplacian:raw_pixels"]["labels"]
    test = study.arrays["laplacian:raw_pixels"]["test"]
    points = Population("Q6 test images", (len(test),))
    m["chance"] = exact(CHANCE)
    for v in (*VARIANTS, *ENCODERS):
        a = study.arrays[f"laplacian:{v}"]
        if not np.array_equal(a["test"], test):
            raise VicregError(f"laplacian:{v} was scored on another split than raw_pixels; "
                              "recompute the Q6 stages together (--force laplacian)")
        m[f"q6_{v}"] = mean_of(a["test_pred"] == labels[a["test"]], points)
    best = max(VARIANTS, key=lambda v: m[f"q6_{v}"].value)
    m["q6_best_eigenmaps"] = m[f"q6_{best}"]


def pairs(n_classes: int) -> dict:
    return {"q6_raw_pixels_vs_chance": ("q6_raw_pixels", "chance"),
            "q6_random_cnn_vs_raw_pixels": ("q6_random_cnn", "q6_raw_pixels"),
            "q6_q1_vs_best_eigenmaps": ("q6_q1", "q6_best_eigenmaps"),
            "q6_random_init_vs_best_eigenmaps": ("q6_random_init", "q6_best_eigenmaps")}


def summary(ctx: dict, row) -> list:
    q6 = ctx["q6"]
    return [row("q6_probe_raw", "percent", q6["raw_pixels"]["test_acc"], None,
                ctx["original"]["q6_probe_acc_raw_pixels"], "q6_raw_pixels"),
            row("q6_probe_cnn", "percent", q6["random_cnn"]["test_acc"], None, None,
                "q6_random_cnn")]


EXAMPLE = {"q6": {
    "figure": "figures/q6_laplacian_tsne.png", "figure_sweep": "figures/q6_eigenvectors.png",
    "images": 2_000, "neighbors": 10, "tried": [2, 4, 8, 16, 32, 64, 128],
    "fit_size": 1_600, "val_size": 200, "test_size": 200, "chance": 0.1,
    "raw_pixels": {"test_acc": 0.1050, "train_acc": 0.1122, "val_acc": 0.1150,
                   "components": 8, "graph_components": 3, "feature_dim": 3072},
    "random_cnn": {"test_acc": 0.1850, "train_acc": 0.2011, "val_acc": 0.1900,
                   "components": 32, "graph_components": 1, "feature_dim": 1024},
    "q1": {"test_acc": 0.5450, "train_acc": 0.6533, "val_acc": 0.5350},
    "random_init": {"test_acc": 0.3050, "train_acc": 0.3322, "val_acc": 0.3000},
}}

EXPERIMENT = Experiment(
    name="laplacian", section="q6", build=build, example=EXAMPLE, shows=("laplacian",),
    stages=stages, modules=("laplacian", "probe"), cost=90, metrics=METRICS,
    figures={"figure": "q6_laplacian_tsne.png", "figure_sweep": "q6_eigenvectors.png"},
    draw=draw, measures=measures, pairs=pairs, summary=summary)
