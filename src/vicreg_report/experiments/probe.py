"""Q3: a linear probe on each encoder's frozen train representations, scored on test."""

from __future__ import annotations

import numpy as np

from ..config import ANIMALS, ENCODERS, VEHICLES
from ..data import CIFAR_CLASSES, study_subsets
from ..original import original
from ..uncertainty import Population, class_mean_of, exact, mean_of
from .base import Experiment, each

METRICS = tuple(each("probe", "probe", ("test_acc",), "percent", ENCODERS,
                     ("probes", "{}", "test_acc")))


def stages(run, study) -> list:
    from ..probe import METHOD, ProbeResult, fit_linear_probe
    from ..stages import Spec

    d, p = study.data, run.profile
    train_idx, test_idx = study_subsets(p, d)

    def compute(encoder):
        reps = study.reps[encoder]
        fit = fit_linear_probe(reps.train, d.train_y[train_idx], reps.test, d.test_y[test_idx],
                               p.probe_l2)
        settings = {"method": METHOD, "l2": p.probe_l2,
                    "train_images": len(train_idx), "test_images": len(test_idx)}
        result = ProbeResult(
            encoder=encoder, test_acc=fit["test_acc"], train_acc=fit["train_acc"],
            per_class_test_acc=fit["per_class_test_acc"],
            test_class_counts=np.bincount(d.test_y[test_idx],
                                          minlength=len(d.classes)).tolist(),
            feature_std=float(reps.train.std(0).mean()), settings=settings)
        return result, {"train_pred": fit["train_pred"].astype(np.int16),
                        "test_pred": fit["test_pred"].astype(np.int16)}
    return [Spec(f"probe:{e}", ProbeResult, lambda e=e: compute(e), (study.reps[e].key,),
                 arrays=True) for e in ENCODERS]


def _group_mean(values: list[float], classes: list[str], group: tuple[str, ...]) -> float:
    return float(np.mean([v for v, c in zip(values, classes) if c in group]))


def build(run, study) -> dict:
    ref = original()
    classes = study.data.classes
    q1, rnd = study.probes["q1"].result, study.probes["random_init"].result
    probe = {"trained": {"test_acc": q1.test_acc, "train_acc": q1.train_acc},
             "random_init": {"test_acc": rnd.test_acc, "train_acc": rnd.train_acc},
             "original": {"test_acc": ref["reported"]["q3_probe_acc"]},
             "course_threshold": ref["course_threshold_probe_acc"],
             "settings": {k: q1.settings[k] for k in
                          ("l2", "train_images", "test_images")}}
    probes = {"classes": list(classes),
              "groups": {"vehicles": [c for c in classes if c in VEHICLES],
                         "animals": [c for c in classes if c in ANIMALS]},
              "group_of": {c: "vehicles" if c in VEHICLES else "animals"
                           for c in classes if c in VEHICLES or c in ANIMALS}}
    for enc, record in study.probes.items():
        r = record.result
        probes[enc] = {"test_acc": r.test_acc, "train_acc": r.train_acc,
                       "per_class": list(r.per_class_test_acc),
                       "vehicles": _group_mean(r.per_class_test_acc, classes, VEHICLES),
                       "animals": _group_mean(r.per_class_test_acc, classes, ANIMALS)}
    return {"probe": probe, "probes": probes}


def class_ids(classes: list[str], names: tuple[str, ...]) -> list[int]:
    return [i for i, c in enumerate(classes) if c in names]


def measures(m: dict, run, study) -> None:
    """Each probe's accuracy over the test images (overall, by group and by class) and
    over the train images; the course's threshold."""
    d = study.data
    train_idx, test_idx = study_subsets(run.profile, d)
    test_y, train_y = d.test_y[test_idx], d.train_y[train_idx]
    m["course_threshold"] = exact(original()["course_threshold_probe_acc"])
    test_pop = Population("probe test images", (len(test_y),))
    train_pop = Population("probe train images", (len(train_y),))
    for enc in ENCODERS:
        a = study.arrays[f"probe:{enc}"]
        correct = a["test_pred"] == test_y
        m[f"probe_{enc}"] = mean_of(correct, test_pop)
        m[f"probe_{enc}_train"] = mean_of(a["train_pred"] == train_y, train_pop)
        for group, names in (("vehicles", VEHICLES), ("animals", ANIMALS)):
            m[f"probe_{enc}_{group}"] = class_mean_of(correct, test_y,
                                                      class_ids(d.classes, names), test_pop)
        for c in range(len(d.classes)):
            m[f"probe_{enc}_class_{c}"] = class_mean_of(correct, test_y, [c], test_pop)


def pairs(n_classes: int) -> dict:
    return {
        "probe_q1_vs_random_init": ("probe_q1", "probe_random_init"),
        "probe_q1_vs_threshold": ("probe_q1", "course_threshold"),
        "probe_q1_vs_original": ("probe_q1", "original_q3_probe_acc"),
        "probe_q1_train_vs_test": ("probe_q1_train", "probe_q1"),
        "probe_vehicles_vs_animals_q1": ("probe_q1_vehicles", "probe_q1_animals"),
        "probe_vehicles_vs_animals_random_init": ("probe_random_init_vehicles",
                                                  "probe_random_init_animals"),
        "probe_vehicles_q1_vs_random_init": ("probe_q1_vehicles", "probe_random_init_vehicles"),
        "probe_animals_q1_vs_random_init": ("probe_q1_animals", "probe_random_init_animals"),
        **{f"probe_class_{c}_q1_vs_random_init": (f"probe_q1_class_{c}",
                                                  f"probe_random_init_class_{c}")
           for c in range(n_classes)},
    }


def summary(ctx: dict, row) -> list:
    pr = ctx["probes"]
    return [row("q3_probe", "percent", pr["q1"]["test_acc"], pr["random_init"]["test_acc"],
                ctx["original"]["q3_probe_acc"], "probe_q1", "probe_random_init",
                "probe_q1_vs_random_init")]


def _example_entry(test_acc: float, train_acc: float, per_class: list[float]) -> dict:
    return {"test_acc": test_acc, "train_acc": train_acc, "per_class": per_class,
            "vehicles": float(np.mean([per_class[i] for i in (0, 1, 8, 9)])),
            "animals": float(np.mean([per_class[i] for i in range(2, 8)]))}


EXAMPLE = {
    "probe": {
        "trained": {"test_acc": 0.6123, "train_acc": 0.6689},
        "random_init": {"test_acc": 0.3487, "train_acc": 0.3712},
        "original": {"test_acc": 0.724}, "course_threshold": 0.60,
        "settings": {"l2": 1e-3, "train_images": 10_000, "test_images": 9_000},
    },
    "probes": {
        "classes": list(CIFAR_CLASSES),
        "groups": {"vehicles": ["airplane", "automobile", "ship", "truck"],
                   "animals": ["bird", "cat", "deer", "dog", "frog", "horse"]},
        "group_of": {c: "vehicles" if c in VEHICLES else "animals" for c in CIFAR_CLASSES},
        "q1": _example_entry(0.6123, 0.6689, [0.7012, 0.7805, 0.4823, 0.4177, 0.5544,
                                              0.5021, 0.6834, 0.6612, 0.7698, 0.7312]),
        "q4": _example_entry(0.1689, 0.1702, [0.2511, 0.2233, 0.0912, 0.1044, 0.1321,
                                              0.0977, 0.2105, 0.1488, 0.2456, 0.1843]),
        "q5": _example_entry(0.4812, 0.5023, [0.5612, 0.6201, 0.3512, 0.3023, 0.4011,
                                              0.3876, 0.5523, 0.5102, 0.6034, 0.5837]),
        "random_init": _example_entry(0.3487, 0.3712, [0.4412, 0.4023, 0.2511, 0.2034,
                                                       0.3012, 0.2398, 0.3689, 0.3301,
                                                       0.4687, 0.4267]),
    },
}

EXPERIMENT = Experiment(
    name="probe", section="probe", build=build, example=EXAMPLE, data_keys=("group_of",),
    shows=("train", "representations", "probe"), stages=stages, modules=("probe",), cost=2,
    metrics=METRICS, measures=measures, pairs=pairs, summary=summary)
