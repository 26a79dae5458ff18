"""Q5: VICReg from pairs of an image and one of its nearest train images under Q1, with no
augmentation. It is trained by the pipeline (train:q5) and probed like the others."""

from __future__ import annotations

from ..original import original
from .base import Experiment


def build(run, study) -> dict:
    p = run.profile
    return {"q5": {"epochs": p.q5_epochs, "neighbours": p.q5_neighbours,
                   "steps": len(study.trained["q5"].history.train["total"]),
                   "probe": study.probes["q5"].result.test_acc,
                   "other_runs": original()["other_runs"]["q5_probe_acc_1_epoch"]}}


def pairs(n_classes: int) -> dict:
    return {"probe_q5_vs_random_init": ("probe_q5", "probe_random_init"),
            "probe_q5_vs_q1": ("probe_q5", "probe_q1"),
            "probe_q5_vs_original": ("probe_q5", "original_q5_probe_acc")}


def summary(ctx: dict, row) -> list:
    pr = ctx["probes"]
    return [row("q5_probe", "percent", pr["q5"]["test_acc"], pr["random_init"]["test_acc"],
                ctx["original"]["q5_probe_acc"], "probe_q5", "probe_random_init",
                "probe_q5_vs_random_init")]


EXAMPLE = {"q5": {"epochs": 1, "neighbours": 3, "steps": 39, "probe": 0.4812,
                  "other_runs": [0.501]}}

EXPERIMENT = Experiment(
    name="neighbour_pairs", section="q5", build=build, example=EXAMPLE,
    shows=("train:q5", "representations:q5", "probe:q5"), pairs=pairs, summary=summary)
