"""What the templates read: the shape of the context that report_context builds.

``CONTEXT_SCHEMA`` names every key; ``validate_context`` refuses a context that
lacks one, naming each missing key by its path.  ``METRIC_PATHS`` says where each
headline metric stands in the context, ``SECTIONS`` which sections can show stale
results, ``FIGURE_KEYS`` where the figure paths are.  templates/README.md describes
the keys in words.
"""

from __future__ import annotations

from typing import Any

from .errors import RenderError
from .metrics import BY_NAME

# Where each metric of metrics.METRICS stands in the context (the first seed's value):
# the document's mean ± std over seeds is ``ctx["seeds"][name]``, its single-seed
# counterpart the value at this path.  final_train_loss_q5 is not in the context.
METRIC_PATHS: dict[str, tuple] = {
    **{f"probe_{e}": ("probes", e, "test_acc") for e in ("q1", "q4", "q5", "random_init")},
    "final_train_loss_q1": ("training", "last", "total"),
    "final_train_loss_q4": ("q4", "last", "total"),
    "final_test_loss_q1": ("training", "test_last", "total"),
    "final_test_loss_q4": ("q4", "test_last", "total"),
    **{f"{name}_{e}": ("q2", e, key) for e in ("q1", "q4", "q5", "random_init")
       for name, key in (("pca_knn", "pca_knn"), ("tsne_knn", "tsne_knn"),
                         ("effective_rank", "effective_rank"))},
    **{f"variance_top2_{e}": ("q2", e, "top2") for e in ("q1", "q4")},
    **{f"q6_{v}": ("q6", v, "test_acc") for v in ("raw_pixels", "random_cnn", "q1",
                                                   "random_init")},
    **{f"same_class_{e}": ("q7", e, "same_class") for e in ("q1", "q5")},
    **{f"auc_{e}": ("anomaly", e, "auc") for e in ("q1", "q5", "random_init")},
    **{f"{name}_{e}": ("clustering", e, key) for e in ("q1", "q5", "random_init")
       for name, key in (("silhouette", "silhouette"), ("ari", "ari"), ("nmi", "nmi"))},
}
assert set(METRIC_PATHS) <= set(BY_NAME), set(METRIC_PATHS) - set(BY_NAME)

# The sections of the document, as the templates name them (stale_sections).
SECTIONS = ("training", "probe", "q2", "q4", "q5", "q6", "q7", "anomaly", "clustering",
            "claims")

_TERMS = {"invariance": None, "variance": None, "covariance": None, "total": None}
_COMPARISON = {k: None for k in ("a", "b", "diff", "low", "high", "verdict", "method",
                                 "resamples", "kind", "word")}
# The shape of the context the templates read: a key maps to its sub-keys, or
# to None for a leaf.  ``validate_context`` names every missing key by its path.
CONTEXT_SCHEMA: dict[str, Any] = {
    "meta": {"generated": None, "commit": None, "profile": None},
    "setup": {
        "data_source": None, "data_fingerprint": None, "data_verified": None,
        "profile": {k: None for k in (
            "name", "arch", "width", "train_images", "test_images", "epochs", "batch_size",
            "lr", "weight_decay", "lam", "mu", "nu", "gamma", "eps", "seed", "config_hash")},
        "device": None, "python": None, "torch": None, "torchvision": None,
        "wall_time": {"train_s": None, "probe_s": None, "experiments_s": None, "total_s": None},
        "seeds": {"n": None, "first": None, "several": None, "ids": None},
    },
    "training": {"figure": None, "steps": None, "epochs": None, "steps_per_epoch": None,
                 "test_batches": None, "batch_size": None, "first": _TERMS,
                 "last": _TERMS, "test_first": _TERMS, "test_last": _TERMS},
    "probe": {
        "trained": {"test_acc": None, "train_acc": None, "standardized": None},
        "random_init": {"test_acc": None, "train_acc": None, "standardized": None},
        "original": {"test_acc": None},
        "course_threshold": None,
        "settings": {k: None for k in ("epochs", "lr", "batch_size", "train_images",
                                       "test_images")},
    },
    "probes": {
        "classes": None, "groups": {"vehicles": None, "animals": None}, "group_of": None,
        **{enc: {k: None for k in ("test_acc", "train_acc", "standardized", "feature_std",
                                   "per_class", "vehicles", "animals")}
           for enc in ("q1", "q4", "q5", "random_init")},
    },
    "q2": {
        "figure": None, "points": None, "knn_k": None, "knn_folds": None, "tsne_method": None,
        "perplexity": None,
        **{enc: {k: None for k in ("pca_knn", "tsne_knn", "pca_silhouette", "tsne_silhouette",
                                   "pca_ratio", "tsne_vehicles", "tsne_animals",
                                   "effective_rank", "top1", "top2", "top10", "dimensions")}
           for enc in ("q1", "q4", "q5", "random_init")},
    },
    "q4": {"figure_maps": None, "figure_spectra": None, "figure_curves": None, "probe": None,
           "last": _TERMS},
    "q5": {"epochs": None, "neighbours": None, "steps": None, "probe": None, "other_runs": None},
    "q6": {
        "figure": None, "figure_sweep": None, "images": None, "neighbors": None, "tried": None,
        "fit_size": None, "val_size": None, "test_size": None, "chance": None,
        **{v: {"test_acc": None, "train_acc": None, "val_acc": None, "standardized": None,
               "components": None, "standardized_components": None, "graph_components": None,
               "feature_dim": None}
           for v in ("raw_pixels", "random_cnn")},
        **{enc: {"test_acc": None, "train_acc": None, "val_acc": None, "standardized": None}
           for enc in ("q1", "random_init")},
    },
    "q7": {
        "figure_q1": None, "figure_q5": None, "dataset_grey": None, "dataset_saturation": None,
        "grey_threshold": None,
        **{enc: {k: None for k in ("same_class", "animal_other_animal", "animal_vehicle",
                                   "farthest_grey", "farthest_saturation", "farthest_distinct",
                                   "k", "mixing_k")}
           for enc in ("q1", "q5")},
    },
    "anomaly": {
        "figure_roc": None, "figure_top": None, "k": None, "top": None, "wide_top": None,
        **{enc: {"auc": None, "top_normal": None, "top_anomalies": None,
                 "top_digits": [{"digit": None, "count": None}], "wide_normal": None,
                 "wide_digits": [{"digit": None, "count": None}], "leading_digit": None,
                 "leading_count": None}
           for enc in ("q1", "q5", "random_init")},
    },
    "clustering": {
        "figure": None, "clusters": None,
        **{enc: {k: None for k in ("silhouette", "ari", "nmi", "sample", "dimensions")}
           for enc in ("q1", "q5", "random_init")},
    },
    "original": {k: None for k in ("q3_probe_acc", "q4_probe_acc", "q5_probe_acc",
                                   "q6_probe_acc_raw_pixels", "anomaly_auc_q1", "anomaly_auc_q5",
                                   "silhouette_q1", "silhouette_q5")},
    # comparisons.py: every comparison the document words, with its interval
    "verdicts": {name: _COMPARISON for name in ("probe_q1_vs_random_init", "auc_q5_vs_q1")},
    "uncertainty": {"level": None, "resamples": None, "slow_resamples": None,
                    "claims_over_seeds": None},
    # a one-element list: every item of the context's list must have these keys
    "claims": [{"id": None, "verdict": None, "values": None,
                "deciding": [{"name": None, **_COMPARISON}], "evidence": None}],
    "summary": [{"key": None, "kind": None, "this": None, "control": None, "original": None,
                 "this_seeds": None, "control_seeds": None, "versus": None}],
    # metrics.across_seeds over the seeds shown, for every metric the context holds
    "seeds": {name: {"mean": None, "std": None, "n": None, "values": None}
              for name in METRIC_PATHS},
    "stale": [{"stage": None, "seed": None, "why": None, "reason": None, "old_key": None,
               "new_key": None}],
    "stale_sections": {section: None for section in SECTIONS},
    "provenance": {"common": None, "varying": None,
                   "rows": [{"stage": None, "wall_time_s": None, "stage_key": None}],
                   "total_s": None, "seeds": None, "seeds_known": None, "command": None},
}

# Every figure the document shows: a path (relative to the markdown file) in the context.
FIGURE_KEYS: tuple[tuple[str, str], ...] = (
    ("training", "figure"), ("q2", "figure"), ("q4", "figure_maps"),
    ("q4", "figure_spectra"), ("q4", "figure_curves"), ("q6", "figure"),
    ("q6", "figure_sweep"),
    ("q7", "figure_q1"), ("q7", "figure_q5"), ("anomaly", "figure_roc"),
    ("anomaly", "figure_top"), ("clustering", "figure"),
)


def missing_keys(context: dict, schema: dict | None = None, prefix: str = "") -> list[str]:
    """Dotted paths of the keys ``schema`` requires that ``context`` lacks.

    A schema value that is a one-element list ``[item_schema]`` asks for a list
    whose every item has the keys of ``item_schema`` (paths such as ``claims[2].id``).
    """
    schema = CONTEXT_SCHEMA if schema is None else schema
    missing = []
    for key, sub in schema.items():
        path = f"{prefix}{key}"
        if not isinstance(context, dict) or key not in context:
            missing.append(path)
        elif isinstance(sub, list):
            value = context[key]
            if not isinstance(value, list):
                missing.append(f"{path}[]")
            else:
                for i, item in enumerate(value):
                    missing.extend(missing_keys(item, sub[0], f"{path}[{i}]."))
        elif sub is not None:
            value = context[key]
            if not isinstance(value, dict):
                missing.extend(f"{path}.{k}" for k in sub)
            else:
                missing.extend(missing_keys(value, sub, path + "."))
    return missing


def validate_context(context: dict) -> None:
    """Raise RenderError naming every key of CONTEXT_SCHEMA the context lacks."""
    missing = missing_keys(context)
    if missing:
        raise RenderError("jinja2: the report context lacks "
                          + ", ".join(missing)
                          + ". Build it with vicreg_report.report_context.build_context.")
