"""Anomalies: CIFAR-10 test (normal) against MNIST test (anomalies), scored by the mean
distance to the nearest train representations; which digits look most anomalous."""

from __future__ import annotations

import numpy as np

from ..data import study_subsets
from ..uncertainty import Population, auc_of, share_against
from .base import Experiment, each

ENCODERS = ("q1", "q5", "random_init")
# The two MNIST digits the original write-up saw the two encoders favour among the most
# anomalous images, one each (in either order).
ANOMALY_DIGITS = ("8", "1")
METRICS = tuple(each("auc", "anomaly", ("auc",), "auc", ENCODERS, ("anomaly", "{}", "auc")))


def stages(run, study) -> list:
    from ..anomaly import AnomalyResult, evaluate_anomaly
    from ..stages import Spec

    d, p = study.data, run.profile

    def compute(encoder):
        reps = study.reps[encoder]
        return evaluate_anomaly(reps.train, reps.test, reps.mnist, p.anomaly_k, p.anomaly_top,
                                d.mnist_y)
    return [Spec(f"anomaly:{e}", AnomalyResult, lambda e=e: compute(e), (study.reps[e].key,),
                 arrays=True) for e in ENCODERS]


def _by_count(counts: dict) -> list[tuple[str, int]]:
    """Most frequent first, then by digit."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def build(run, study) -> dict:
    p = run.profile
    out = {"k": p.anomaly_k, "top": p.anomaly_top}
    for enc in ENCODERS:
        a = study.results[f"anomaly:{enc}"].result
        out["wide_top"] = a.wide_top
        digits, wide = _by_count(a.top_label_counts), _by_count(a.wide_top_label_counts)
        out[enc] = {"auc": a.auc, "top_normal": a.top_normal_count,
                    "top_anomalies": a.top - a.top_normal_count,
                    "top_digits": [{"digit": k, "count": v} for k, v in digits if v],
                    "wide_normal": a.wide_top_normal_count,
                    "wide_digits": [{"digit": k, "count": v} for k, v in wide if v],
                    "wide_digit_counts": dict(a.wide_top_label_counts),
                    "leading_digit": wide[0][0], "leading_count": wide[0][1]}
    return {"anomaly": out}


def draw(run, study, paths) -> None:
    from ..anomaly import mnist_to_cifar_format
    from ..figures import roc_curves, top_anomalies

    d = study.data
    results = {enc: study.results[f"anomaly:{enc}"].result for enc in ENCODERS}
    roc_curves({enc: (r.fpr, r.tpr, r.auc) for enc, r in results.items()}, paths["figure_roc"])
    _, test_idx = study_subsets(run.profile, d)
    test_y = d.test_y[test_idx]
    pool = np.concatenate([d.test_x[test_idx], mnist_to_cifar_format(d.mnist_x)])
    n_test = len(test_idx)
    rows = {enc: [(pool[i], d.classes[test_y[i]] if i < n_test
                   else f"MNIST {d.mnist_y[i - n_test]}") for i in results[enc].top_indices]
            for enc in ("q1", "q5")}
    top_anomalies(rows, paths["figure_top"])


def measures(m: dict, run, study) -> None:
    """The AUC over the normal and anomalous test points (resampled apart)."""
    for enc in ENCODERS:
        record = study.results[f"anomaly:{enc}"].result
        scores = study.arrays[f"anomaly:{enc}"]["scores"]
        m[f"auc_{enc}"] = auc_of(scores, record.n_normal, Population(
            "anomaly test points", (record.n_normal, record.n_anomalous)))


def pairs(n_classes: int) -> dict:
    return {"auc_q5_vs_q1": ("auc_q5", "auc_q1"),
            **{f"auc_{e}_vs_random_init": (f"auc_{e}", "auc_random_init") for e in ("q1", "q5")},
            "auc_q1_vs_original": ("auc_q1", "original_anomaly_auc_q1")}


def digit_comparison(digit: str, encoder: str) -> str:
    return f"digit_{digit}_{encoder}"


def shares(study) -> dict:
    """Each claimed digit's share among the MNIST images of each encoder's most anomalous
    test points, against its share of the MNIST test set (Wilson interval)."""
    out = {}
    for enc in ("q1", "q5"):
        r = study.results[f"anomaly:{enc}"].result
        shown = r.wide_top - r.wide_top_normal_count
        total = sum(r.anomaly_label_counts.values())
        for digit in ANOMALY_DIGITS:
            out[digit_comparison(digit, enc)] = share_against(
                r.wide_top_label_counts[digit], shown, r.anomaly_label_counts[digit] / total)
    return out


def summary(ctx: dict, row) -> list:
    an, o = ctx["anomaly"], ctx["original"]
    return [row(f"auc_{e}", "auc", an[e]["auc"], an["random_init"]["auc"], o[f"anomaly_auc_{e}"],
                f"auc_{e}", "auc_random_init", f"auc_{e}_vs_random_init") for e in ("q1", "q5")]


def _example_entry(auc: float, top: dict[str, int], wide: dict[str, int], top_n: int = 7,
                   wide_n: int = 100) -> dict:
    def ordered(counts):
        return [{"digit": d, "count": n} for d, n in _by_count(counts)]
    top_anomalies, wide_digits = sum(top.values()), sum(wide.values())
    return {"auc": auc, "top_normal": top_n - top_anomalies, "top_anomalies": top_anomalies,
            "top_digits": ordered(top), "wide_normal": wide_n - wide_digits,
            "wide_digits": ordered(wide),
            "wide_digit_counts": {str(d): wide.get(str(d), 0) for d in range(10)},
            "leading_digit": ordered(wide)[0]["digit"], "leading_count": ordered(wide)[0]["count"]}


EXAMPLE = {"anomaly": {
    "figure_roc": "figures/anomaly_roc.png", "figure_top": "figures/anomaly_top.png",
    "k": 2, "top": 7, "wide_top": 100,
    "q1": _example_entry(0.9123, {"8": 4, "0": 3}, {"8": 31, "0": 22, "2": 17, "6": 9, "3": 8,
                                                   "5": 6, "9": 3, "1": 1}),
    "q5": _example_entry(0.9456, {"1": 5, "7": 2}, {"1": 40, "7": 19, "4": 13, "9": 9, "2": 5,
                                                   "8": 3, "0": 2, "6": 1}),
    "random_init": _example_entry(0.8512, {"0": 3, "8": 3}, {"0": 25, "8": 20, "2": 14, "6": 11,
                                                            "3": 7, "5": 6}),
}}

EXPERIMENT = Experiment(
    name="anomaly", section="anomaly", build=build, example=EXAMPLE,
    data_keys=("wide_digit_counts",), shows=("anomaly",), stages=stages,
    modules=("anomaly", "neighbours"), cost=1, metrics=METRICS,
    figures={"figure_roc": "anomaly_roc.png", "figure_top": "anomaly_top.png"}, draw=draw,
    measures=measures, pairs=pairs, shares=shares, summary=summary)
