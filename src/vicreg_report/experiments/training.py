"""Training (Q1, Q4, Q5) and the representations: the loss curves of Q1.

The training and representation stages run in the pipeline (pipeline.py), which
needs the trained encoders before any experiment; their keys cover the modules
named here.
"""

from __future__ import annotations

from ..uncertainty import Population, mean_of
from .base import Experiment, Metric

TRAIN_MODULES = ("training", "model", "losses", "augment", "data")
REPRESENTATION_MODULES = ("representations", "model", "augment", "anomaly")
# Q4's losses are shown in its own section (no_variance.py).
METRICS = (
    Metric("final_train_loss_q1", "train.q1", ("history", "train_epochs", "total", -1), "loss",
           ("training", "last", "total")),
    Metric("final_train_loss_q4", "train.q4", ("history", "train_epochs", "total", -1), "loss",
           ("q4", "last", "total")),
    Metric("final_train_loss_q5", "train.q5", ("history", "train_epochs", "total", -1), "loss"),
    Metric("final_test_loss_q1", "train.q1", ("history", "test", "total", -1), "loss",
           ("training", "test_last", "total")),
    Metric("final_test_loss_q4", "train.q4", ("history", "test", "total", -1), "loss",
           ("q4", "test_last", "total")),
)


def terms(history: dict[str, list[float]], index: int) -> dict[str, float]:
    """The loss terms of one epoch (or batch) of a history."""
    from ..losses import TERM_NAMES   # here, not at the top: losses.py loads torch

    return {k: history[k][index] for k in TERM_NAMES}


def build(run, study) -> dict:
    h = study.trained["q1"].history
    return {"training": {
        "steps": len(h.train["total"]), "epochs": len(h.test["total"]),
        "steps_per_epoch": h.steps_per_epoch, "test_batches": len(h.test_batches["total"][0]),
        "batch_size": run.profile.batch_size,
        "first": terms(h.train_epochs, 0), "last": terms(h.train_epochs, -1),
        "test_first": terms(h.test, 0), "test_last": terms(h.test, -1)}}


def draw(run, study, paths) -> None:
    from ..figures import training_curves

    training_curves(study.trained["q1"].history, paths["figure"])


def measures(m: dict, run, study) -> None:
    """Each loss term over the first and last epoch's batches, and on the test batches."""
    from ..losses import TERM_NAMES

    for enc in ("q1", "q4"):
        h = study.trained[enc].history
        spe = h.steps_per_epoch
        test = Population("test batches", (len(h.test_batches["total"][0]),))
        for term in TERM_NAMES:
            for when, batches in (("first", slice(0, spe)), ("last", slice(-spe, None))):
                # the mean of these batches is h.train_epochs[term][0] (or [-1])
                m[f"{enc}_train_{when}_{term}"] = mean_of(h.train[term][batches], Population(
                    f"{enc} training batches, {when} epoch", (spe,)))
            m[f"{enc}_test_first_{term}"] = mean_of(h.test_batches[term][0], test)
            m[f"{enc}_test_last_{term}"] = mean_of(h.test_batches[term][-1], test)


def pairs(n_classes: int) -> dict:
    from ..losses import TERM_NAMES

    out = {}
    for term in TERM_NAMES:
        out[f"train_{term}_last_vs_first"] = (f"q1_train_last_{term}", f"q1_train_first_{term}")
        out[f"test_{term}_last_vs_first"] = (f"q1_test_last_{term}", f"q1_test_first_{term}")
        out[f"{term}_test_vs_train"] = (f"q1_test_last_{term}", f"q1_train_last_{term}")
    return out


EXAMPLE = {"training": {
    "figure": "figures/training_curves.png", "steps": 312, "epochs": 8,
    "steps_per_epoch": 39, "test_batches": 7, "batch_size": 256,
    "first": {"invariance": 0.912, "variance": 1.874, "covariance": 0.0123, "total": 47.782},
    "last": {"invariance": 0.217, "variance": 0.0412, "covariance": 0.6634, "total": 7.116},
    "test_first": {"invariance": 0.351, "variance": 0.312, "covariance": 0.524, "total": 17.021},
    "test_last": {"invariance": 0.264, "variance": 0.0398, "covariance": 0.7012, "total": 8.296},
}}

EXPERIMENT = Experiment(
    name="training", section="training", build=build, example=EXAMPLE,
    shows=("train", "representations", "probe"),
    kinds=("train", "representations"), modules=TRAIN_MODULES, metrics=METRICS,
    figures={"figure": "training_curves.png"}, draw=draw, measures=measures, pairs=pairs)
