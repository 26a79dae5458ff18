"""Q2: PCA and t-SNE of each encoder's test representations; how well the classes
separate in each map, and how many dimensions the representations use (read by Q4)."""

from __future__ import annotations

from ..config import ANIMALS, ENCODERS, VEHICLES
from ..data import study_subsets
from ..uncertainty import Population, class_mean_of, mean_of
from .base import Experiment, each
from .probe import class_ids

METRICS = (
    *each("pca_knn", "embedding2d", ("pca_knn_accuracy",), "percent", ENCODERS,
          ("q2", "{}", "pca_knn")),
    *each("tsne_knn", "embedding2d", ("tsne_knn_accuracy",), "percent", ENCODERS,
          ("q2", "{}", "tsne_knn")),
    *each("effective_rank", "embedding2d", ("effective_rank",), "rank", ENCODERS,
          ("q2", "{}", "effective_rank")),
    *each("variance_top2", "embedding2d", ("variance_top2",), "percent", ("q1", "q4"),
          ("q2", "{}", "top2")),
)


def stages(run, study) -> list:
    from ..embedding2d import Embedding2DResult, analyse
    from ..stages import Spec

    d, p = study.data, run.profile
    _, test_idx = study_subsets(p, d)

    def compute(encoder):
        return analyse(study.reps[encoder].test, d.test_y[test_idx], d.classes, encoder, p.seed,
                       p.tsne_points)
    return [Spec(f"embedding2d:{e}", Embedding2DResult, lambda e=e: compute(e),
                 (study.reps[e].key,), arrays=True) for e in ENCODERS]


def _values(e) -> dict:
    return {"pca_knn": e.pca_knn_accuracy, "tsne_knn": e.tsne_knn_accuracy,
            "pca_silhouette": e.pca_silhouette, "tsne_silhouette": e.tsne_silhouette,
            "pca_ratio": e.pca_explained_ratio[:2],
            "tsne_vehicles": e.tsne_group_knn_recall["vehicles"],
            "tsne_animals": e.tsne_group_knn_recall["animals"],
            "pca_vehicles": e.pca_group_knn_recall["vehicles"],
            "pca_animals": e.pca_group_knn_recall["animals"],
            "effective_rank": e.effective_rank, "top1": e.variance_top1,
            "top2": e.variance_top2, "top10": e.variance_top10, "dimensions": e.dimensions}


def build(run, study) -> dict:
    res = {enc: study.results[f"embedding2d:{enc}"].result for enc in ENCODERS}
    q1 = res["q1"]
    return {"q2": {"points": q1.n_points, "knn_k": q1.knn_k, "knn_folds": q1.knn_folds,
                   "tsne_method": q1.tsne_method, "perplexity": q1.tsne_settings["perplexity"],
                   **{enc: _values(r) for enc, r in res.items()}}}


def map_panels(run, study, encoder: str) -> list:
    """The PCA and the t-SNE map of ``encoder``'s test representations, as
    figures.maps_side_by_side draws them."""
    from ..figures import ENCODER_LABELS

    _, test_idx = study_subsets(run.profile, study.data)
    a = study.arrays[f"embedding2d:{encoder}"]
    labels = study.data.test_y[test_idx][a["index"]]
    return [(a["pca"], labels, f"{ENCODER_LABELS[encoder]}: PCA"),
            (a["tsne"], labels, f"{ENCODER_LABELS[encoder]}: t-SNE")]


def draw(run, study, paths) -> None:
    from ..figures import maps_side_by_side

    maps_side_by_side(map_panels(run, study, "q1"), study.data.classes, paths["figure"])


def measures(m: dict, run, study) -> None:
    """Neighbour accuracy and silhouette in each map, over its points; by class group."""
    classes = study.data.classes
    for enc in ENCODERS:
        a = study.arrays[f"embedding2d:{enc}"]
        points = Population("map points", (len(a["labels"]),))
        for space in ("pca", "tsne"):
            correct = a[f"{space}_knn_pred"] == a["labels"]
            m[f"{space}_knn_{enc}"] = mean_of(correct, points)
            m[f"{space}_silhouette_{enc}"] = mean_of(a[f"{space}_silhouette_values"], points)
            for group, names in (("vehicles", VEHICLES), ("animals", ANIMALS)):
                m[f"{space}_{group}_{enc}"] = class_mean_of(correct, a["labels"],
                                                            class_ids(classes, names), points)


def pairs(n_classes: int) -> dict:
    return {"tsne_vs_pca_knn_q1": ("tsne_knn_q1", "pca_knn_q1"),
            "tsne_knn_q1_vs_random_init": ("tsne_knn_q1", "tsne_knn_random_init"),
            "tsne_vs_pca_silhouette_q1": ("tsne_silhouette_q1", "pca_silhouette_q1"),
            "tsne_vehicles_vs_animals_q1": ("tsne_vehicles_q1", "tsne_animals_q1")}


def _example_entry(pca_knn, tsne_knn, pca_sil, tsne_sil, pca_ratio, tsne_vehicles,
                   tsne_animals, effective_rank, top1, top2, top10) -> dict:
    return {"pca_knn": pca_knn, "tsne_knn": tsne_knn, "pca_silhouette": pca_sil,
            "tsne_silhouette": tsne_sil, "pca_ratio": pca_ratio, "tsne_vehicles": tsne_vehicles,
            "tsne_animals": tsne_animals, "pca_vehicles": tsne_vehicles - 0.2,
            "pca_animals": tsne_animals - 0.2, "effective_rank": effective_rank, "top1": top1,
            "top2": top2, "top10": top10, "dimensions": 128}


EXAMPLE = {"q2": {
    "figure": "figures/q2_pca_tsne.png", "points": 2_000, "knn_k": 10, "knn_folds": 5,
    "tsne_method": "openTSNE-fft", "perplexity": 30.0,
    "q1": _example_entry(0.3512, 0.5874, -0.0412, 0.0631, [0.1423, 0.0911], 0.6825, 0.5213,
                         41.27, 0.1423, 0.2334, 0.5512),
    "q4": _example_entry(0.1633, 0.2145, -0.1203, -0.0534, [0.7012, 0.2113], 0.2311, 0.1822,
                         3.18, 0.7012, 0.9125, 0.9988),
    "q5": _example_entry(0.3011, 0.4866, -0.0533, 0.0412, [0.1802, 0.1104], 0.5521, 0.4312,
                         33.65, 0.1802, 0.2906, 0.6233),
    "random_init": _example_entry(0.2577, 0.3623, -0.0811, 0.0104, [0.3422, 0.1233], 0.4102,
                                  0.3055, 12.44, 0.3422, 0.4655, 0.8344),
}}

EXPERIMENT = Experiment(
    name="embedding2d", section="q2", build=build, example=EXAMPLE, shows=("embedding2d",),
    stages=stages, modules=("embedding2d", "probe"), cost=70, metrics=METRICS,
    figures={"figure": "q2_pca_tsne.png"}, draw=draw, measures=measures, pairs=pairs)
