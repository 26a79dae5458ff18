"""Every comparison the document words or a claim rests on, with its interval (a stage).

Each experiment (experiments/) names the metrics of this run its comparisons read
(``measures``: uncertainty.Metric, with the items it averages over) and its
comparisons as (metric a, metric b) (``pairs``); ``compare_all`` computes them
all (bootstrap, uncertainty.py), after every other stage. The document reads a
comparison's verdict ("higher", "lower", "undecided") where it says that one
number is higher than another, and the claims read theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

from .experiments import REGISTRY
from .original import original
from .stages import Spec
from .uncertainty import LEVEL, Comparison, Metric, compare, exact, release_indices

# The code the comparisons stage runs besides the experiments' measures and pairs.
MODULES = ("comparisons", "uncertainty", "original.json")


@dataclass
class ComparisonsResult:
    level: float
    seed: int
    comparisons: dict[str, Comparison]


def measures(run, study) -> dict[str, Metric]:
    """Every metric a comparison reads, by name: the original write-up's figures, then
    each experiment's."""
    m = {"original_" + k: exact(v) for k, v in original()["reported"].items()}
    for e in REGISTRY:
        if e.measures is not None:
            e.measures(m, run, study)
    return m


def pairs(n_classes: int) -> dict[str, tuple[str, str]]:
    """Comparison name -> (metric a, metric b): the question "is a higher than b?"."""
    return {name: pair for e in REGISTRY if e.pairs is not None
            for name, pair in e.pairs(n_classes).items()}


# How a comparison's numbers are written, by a word of the metric it compares.
KINDS = (("auc_", "auc"), ("silhouette", "score"), ("ari_", "score"), ("nmi_", "score"),
         ("saturation", "score"), ("effective_rank", "rank"), ("_train_", "loss"),
         ("_test_", "loss"), ("collapse_rank", "rank"))


def comparison_kind(name: str) -> str:
    """'percent', 'auc', 'score', 'rank' or 'loss': how a comparison's numbers are written
    (digit shares and every other share or accuracy: 'percent')."""
    metric = pairs(0).get(name, (name, ""))[0]
    return next((kind for word, kind in KINDS if word in metric), "percent")


def compare_all(run, study) -> ComparisonsResult:
    m = measures(run, study)
    seed = run.profile.seed
    try:
        done = {name: compare(m[a], m[b], seed)
                for name, (a, b) in pairs(len(study.data.classes)).items()}
    finally:
        release_indices()
    for e in REGISTRY:
        if e.shares is not None:
            done.update(e.shares(study))
    return ComparisonsResult(level=LEVEL, seed=seed, comparisons=done)


def spec(run, study):
    """The comparisons as a stage, after every other: it reads all their results."""
    read = [*study.trained.values(), *study.probes.values(), *study.results.values()]
    inputs = (*(r.provenance.stage_key for r in read), study.reps["q1"].key,
              study.reps["q4"].key)
    code = (*MODULES, *dict.fromkeys(m for e in REGISTRY if e.measures for m in e.modules),
            *(f for e in REGISTRY for f in (e.measures, e.pairs, e.shares) if f is not None))
    return Spec("comparisons", ComparisonsResult, lambda: compare_all(run, study), inputs,
                modules=code)
