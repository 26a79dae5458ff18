"""Q4: VICReg without the variance term (mu = 0). Its own stages are those of training,
the probe and the maps; this section sets them against Q1 and decides "collapse"."""

from __future__ import annotations

from ..uncertainty import Population, exact, refit_of
from .base import Experiment
from .embedding2d import map_panels
from .training import terms

# "Collapse" (Q4) as decided in advance: an effective rank of at most this share of the
# representation's dimensions, and the top two principal components holding at least
# this share of the variance ("the PCA plot falls onto about two lines").
COLLAPSE_RANK_SHARE = 0.05
TWO_LINES_VARIANCE = 0.5


def build(run, study) -> dict:
    h = study.trained["q4"].history
    return {"q4": {"probe": study.probes["q4"].result.test_acc,
                   "last": terms(h.train_epochs, -1), "test_last": terms(h.test, -1)}}


def draw(run, study, paths) -> None:
    from ..figures import maps_side_by_side, pca_spectra, training_curves

    maps_side_by_side(map_panels(run, study, "q4"), study.data.classes, paths["figure_maps"])
    training_curves(study.trained["q4"].history, paths["figure_curves"])
    pca_spectra({enc: study.arrays[f"embedding2d:{enc}"]["spectrum"]
                 for enc in ("q1", "q4", "q5", "random_init")}, paths["figure_spectra"])


def measures(m: dict, run, study) -> None:
    """Effective rank and the top two components' share, refitted on resampled test
    representations; the thresholds of collapse."""
    from ..embedding2d import effective_rank, pca_spectrum

    m["two_lines"] = exact(TWO_LINES_VARIANCE)
    for enc in ("q1", "q4"):
        reps = study.reps[enc].test
        rows = Population("test representations", (len(reps),))
        record = study.results[f"embedding2d:{enc}"].result
        m[f"effective_rank_{enc}"] = refit_of(
            record.effective_rank, lambda idx, x=reps: effective_rank(x[idx]), rows)
        m[f"top2_{enc}"] = refit_of(
            record.variance_top2, lambda idx, x=reps: float(pca_spectrum(x[idx])[:2].sum()), rows)
        m[f"collapse_rank_{enc}"] = exact(COLLAPSE_RANK_SHARE * reps.shape[1])


def pairs(n_classes: int) -> dict:
    return {
        "probe_q4_vs_random_init": ("probe_q4", "probe_random_init"),
        "probe_q4_vs_q1": ("probe_q4", "probe_q1"),
        "probe_q4_vs_original": ("probe_q4", "original_q4_probe_acc"),
        "top2_q4_vs_q1": ("top2_q4", "top2_q1"),
        "top2_q4_vs_two_lines": ("top2_q4", "two_lines"),
        "effective_rank_q4_vs_q1": ("effective_rank_q4", "effective_rank_q1"),
        "effective_rank_q4_vs_collapse": ("effective_rank_q4", "collapse_rank_q4"),
        "q4_variance_vs_q1": ("q4_train_last_variance", "q1_train_last_variance"),
        "q4_invariance_vs_q1": ("q4_train_last_invariance", "q1_train_last_invariance"),
    }


def summary(ctx: dict, row) -> list:
    pr = ctx["probes"]
    return [row("q4_probe", "percent", pr["q4"]["test_acc"], pr["random_init"]["test_acc"],
                ctx["original"]["q4_probe_acc"], "probe_q4", "probe_random_init",
                "probe_q4_vs_random_init")]


EXAMPLE = {"q4": {
    "figure_maps": "figures/q4_pca_tsne.png", "figure_spectra": "figures/pca_spectra.png",
    "figure_curves": "figures/q4_training_curves.png", "probe": 0.1689,
    "last": {"invariance": 0.0123, "variance": 0.9377, "covariance": 0.0041, "total": 0.3116},
    "test_last": {"invariance": 0.0131, "variance": 0.9412, "covariance": 0.0044,
                  "total": 0.3319},
}}

EXPERIMENT = Experiment(
    name="no_variance", section="q4", build=build, example=EXAMPLE,
    shows=("embedding2d", "train:q4", "representations:q4", "probe:q4"),
    modules=("embedding2d",),
    figures={"figure_maps": "q4_pca_tsne.png", "figure_spectra": "pca_spectra.png",
             "figure_curves": "q4_training_curves.png"},
    draw=draw, measures=measures, pairs=pairs, summary=summary)
