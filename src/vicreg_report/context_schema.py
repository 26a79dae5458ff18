"""What the templates read: the shape of the context that report_context builds.

``CONTEXT_SCHEMA`` names every key: the parts of the document that are not an
experiment's are listed here; each experiment's part is read off its example
(experiments/, ``Experiment.example``). ``validate_context`` refuses a context
that lacks a key, naming each missing key by its path. ``METRIC_PATHS`` says
where each headline metric stands in the context, ``SECTIONS`` which sections
can show stale results, ``FIGURE_KEYS`` where the figure paths are.
templates/README.md describes the keys in words.
"""

from __future__ import annotations

from typing import Any

from .errors import RenderError
from .experiments import REGISTRY
from .metrics import METRICS

# Where each metric of metrics.METRICS stands in the context (the first seed's value),
# for those the document shows: the document's mean ± std over seeds is
# ``ctx["seeds"][name]``, its single-seed counterpart the value at this path.
METRIC_PATHS: dict[str, tuple] = {m.name: m.context for m in METRICS if m.context is not None}

# The sections of the document, as the templates name them (stale_sections): the
# experiments' and the claims.
SECTIONS = (*(e.section for e in REGISTRY), "claims")

_COMPARISON = {k: None for k in ("a", "b", "diff", "low", "high", "verdict", "method",
                                 "resamples", "kind", "word")}
# The shape of the context the templates read: a key maps to its sub-keys, or
# to None for a leaf.  ``validate_context`` names every missing key by its path.
CONTEXT_SCHEMA: dict[str, Any] = {
    "meta": {"generated": None, "commit": None, "profile": None},
    "setup": {
        "data_source": None, "data_fingerprint": None, "data_verified": None,
        "profile": {k: None for k in (
            "name", "arch", "width", "view_size", "views_resized", "encode_size",
            "inputs_resized", "train_images", "test_images", "epochs", "batch_size", "lr",
            "weight_decay", "lam", "mu", "nu", "gamma", "eps", "seed", "config_hash")},
        "device": None, "python": None, "torch": None, "torchvision": None,
        "wall_time": {"train_s": None, "probe_s": None, "experiments_s": None, "total_s": None},
        "seeds": {"n": None, "first": None, "several": None, "ids": None},
    },
    # each experiment's part, in the registry's order
    **{key: part for e in REGISTRY for key, part in e.schema().items()},
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
FIGURE_KEYS: tuple[tuple[str, str], ...] = tuple((e.section, key) for e in REGISTRY
                                                 for key in e.figures)


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
