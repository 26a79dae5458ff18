"""Q7: the nearest and most distant train images of one query per class; how the classes
mix among every train image's nearest neighbours; how grey the most distant images are."""

from __future__ import annotations

import numpy as np

from ..config import ANIMALS
from ..data import study_subsets
from ..uncertainty import Population, exact, mean_of
from .base import Experiment, each
from .probe import class_ids

ENCODERS = ("q1", "q5")
GREY_MAJORITY = 0.5           # "dominated by black and white": over half near-grey
METRICS = tuple(each("same_class", "retrieval", ("mixing", "same_class_fraction"), "percent",
                     ENCODERS, ("q7", "{}", "same_class")))


def stages(run, study) -> list:
    from ..neighbours import knn
    from ..retrieval import MIXING_K, RetrievalSummary, colour_summary, label_mixing, \
        pick_queries, retrieve, saturation
    from ..stages import Spec

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
                 (study.reps[e].key,), arrays=True) for e in ENCODERS]


def build(run, study) -> dict:
    res = {enc: study.results[f"retrieval:{enc}"].result for enc in ENCODERS}
    out = {}
    for enc, s in res.items():
        out[enc] = {"same_class": s.mixing.same_class_fraction,
                    "animal_other_animal": s.mixing.animal_other_animal_fraction,
                    "animal_vehicle": s.mixing.animal_vehicle_fraction,
                    "farthest_grey": s.colour.farthest_grey_fraction,
                    "farthest_saturation": s.colour.farthest_mean_saturation,
                    "farthest_distinct": s.colour.farthest_distinct,
                    "k": len(s.retrieval.nearest[0]), "mixing_k": s.mixing.neighbours_per_query}
    colour = res["q1"].colour
    out["dataset_grey"] = colour.dataset_grey_fraction
    out["dataset_saturation"] = colour.dataset_mean_saturation
    out["grey_threshold"] = colour.grey_threshold
    return {"q7": out}


def draw(run, study, paths) -> None:
    from ..figures import ENCODER_LABELS, retrieval_grid

    d = study.data
    train_idx, _ = study_subsets(run.profile, d)
    images, labels = d.train_x[train_idx], d.train_y[train_idx]   # one copy for every grid
    for enc in ENCODERS:
        r = study.results[f"retrieval:{enc}"].result.retrieval
        retrieval_grid(images, labels, d.classes, r.queries,
                       r.nearest, r.farthest, f"{ENCODER_LABELS[enc]}: retrieval",
                       paths[f"figure_{enc}"])


def measures(m: dict, run, study) -> None:
    """Class mixing over the train images (animals apart); grey among the most distant
    images of the queries; the data set's own share of grey images."""
    d = study.data
    train_idx, _ = study_subsets(run.profile, d)
    train_y = d.train_y[train_idx]
    animals = np.asarray(class_ids(d.classes, ANIMALS))
    is_animal = np.isin(train_y, animals)
    colour = study.results["retrieval:q1"].result.colour
    for enc in ENCODERS:
        a = study.arrays[f"retrieval:{enc}"]
        found = train_y[a["neighbours"]]
        same = found == train_y[:, None]
        other_animal = (np.isin(found, animals) & ~same).mean(1)
        m[f"same_class_{enc}"] = mean_of(same.mean(1), Population("train images",
                                                                  (len(train_y),)))
        m[f"animal_mixing_{enc}"] = mean_of(other_animal[is_animal], Population(
            "animal train images", (int(is_animal.sum()),)))
        queries = Population("retrieval queries", (len(a["farthest_saturation"]),))
        grey = (a["farthest_saturation"] < colour.grey_threshold).mean(1)
        m[f"farthest_grey_{enc}"] = mean_of(grey, queries)
        m[f"farthest_saturation_{enc}"] = mean_of(a["farthest_saturation"].mean(1), queries)
    m["dataset_grey"] = exact(colour.dataset_grey_fraction)
    m["dataset_saturation"] = exact(colour.dataset_mean_saturation)
    m["grey_majority"] = exact(GREY_MAJORITY)


def pairs(n_classes: int) -> dict:
    return {
        "same_class_q5_vs_q1": ("same_class_q5", "same_class_q1"),
        "animal_mixing_q5_vs_q1": ("animal_mixing_q5", "animal_mixing_q1"),
        "farthest_grey_q5_vs_q1": ("farthest_grey_q5", "farthest_grey_q1"),
        "farthest_grey_q5_vs_majority": ("farthest_grey_q5", "grey_majority"),
        **{f"farthest_grey_{e}_vs_dataset": (f"farthest_grey_{e}", "dataset_grey")
           for e in ENCODERS},
        "farthest_saturation_q5_vs_dataset": ("farthest_saturation_q5", "dataset_saturation"),
    }


def _example_entry(same, animal_other, animal_vehicle, grey, saturation, distinct) -> dict:
    return {"same_class": same, "animal_other_animal": animal_other,
            "animal_vehicle": animal_vehicle, "farthest_grey": grey,
            "farthest_saturation": saturation, "farthest_distinct": distinct, "k": 5,
            "mixing_k": 5}


EXAMPLE = {"q7": {
    "figure_q1": "figures/q7_retrieval_q1.png", "figure_q5": "figures/q7_retrieval_q5.png",
    "q1": _example_entry(0.5512, 0.2623, 0.0712, 0.1200, 0.1523, 17),
    "q5": _example_entry(0.4231, 0.3512, 0.0911, 0.6200, 0.0611, 9),
    "dataset_grey": 0.0270, "dataset_saturation": 0.2811, "grey_threshold": 0.05,
}}

EXPERIMENT = Experiment(
    name="retrieval", section="q7", build=build, example=EXAMPLE, shows=("retrieval",),
    stages=stages, modules=("retrieval", "neighbours"), cost=1, metrics=METRICS,
    figures={"figure_q1": "q7_retrieval_q1.png", "figure_q5": "q7_retrieval_q5.png"},
    draw=draw, measures=measures, pairs=pairs)
