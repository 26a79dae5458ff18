"""The experiment registry: every experiment of the study, once, in the document's order.

Each module of this package declares one experiment (``base.Experiment``): its
stages, metrics, figures, part of the template context, comparisons and summary
rows. Everything else reads ``REGISTRY``: the pipeline runs the stages and draws
the figures (below), the command line offers their kinds to ``--force``,
metrics.py lists their metrics for verify and the evidence, comparisons.py
decides their comparisons, context_schema.py and report_context.py build and
check their parts of the context, and the document includes one section
template each (``templates/sections/<section>.md.j2``), in this order.

A new experiment is its module here, its entry in ``REGISTRY``, its section
template and its messages in every catalogue (``templates/lang/<lang>.toml``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from . import anomaly, clustering, embedding2d, laplacian, neighbour_pairs, no_variance, probe, \
    retrieval, training
from .base import Experiment, Metric

__all__ = ["REGISTRY", "Experiment", "Metric", "sections", "stage_kinds", "specs",
           "draw_figures"]

REGISTRY: tuple[Experiment, ...] = (
    training.EXPERIMENT,
    probe.EXPERIMENT,               # Q3
    embedding2d.EXPERIMENT,         # Q2
    no_variance.EXPERIMENT,         # Q4
    neighbour_pairs.EXPERIMENT,     # Q5
    laplacian.EXPERIMENT,           # Q6
    retrieval.EXPERIMENT,           # Q7
    anomaly.EXPERIMENT,
    clustering.EXPERIMENT,
)


def sections() -> tuple[str, ...]:
    """The experiments' sections of the document, in order."""
    return tuple(e.section for e in REGISTRY)


def stage_kinds() -> tuple[str, ...]:
    """Every kind of stage the experiments add ("train", "probe", ...), in order."""
    return tuple(kind for e in REGISTRY for kind in e.stage_kinds)


def specs(run, study) -> list:
    """Every stage of the experiments that reads saved inputs only, the slowest kinds
    first (so that stages side by side finish together). Each stage's key covers the
    source of the function that declares it and the modules its experiment runs."""
    return [replace(spec, modules=(*e.modules, e.stages))
            for e in sorted(REGISTRY, key=lambda e: -e.cost) if e.stages is not None
            for spec in e.stages(run, study)]


def draw_figures(run, study) -> dict[tuple[str, str], Path]:
    """Every figure of the document, under ``<report>/figures/``: (section, context key)
    -> its path."""
    folder = run.report_dir / "figures"
    paths = {}
    for e in REGISTRY:
        if e.draw is not None:
            mine = {key: folder / name for key, name in e.figures.items()}
            e.draw(run, study, mine)
            paths.update({(e.section, key): path for key, path in mine.items()})
    return paths
