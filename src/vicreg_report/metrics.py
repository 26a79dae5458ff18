"""The study's headline metrics as one flat table, read from a run's saved results.

Verify, the multi-seed evidence and the document's mean ± std all use this one
list, so a metric has one name and one source everywhere: the result file
(``<stem>.json`` in a results folder) and the field inside its ``data``. Each
experiment declares its own (``Experiment.metrics``).
"""

from __future__ import annotations

import math
from pathlib import Path

from .errors import VicregError
from .experiments import REGISTRY, Metric
from .results import load_document

__all__ = ["Metric", "METRICS", "BY_NAME", "read_metrics", "mean_std", "across_seeds"]


# Every experiment's metrics (experiments/), in the registry's order.
METRICS: tuple[Metric, ...] = tuple(m for e in REGISTRY for m in e.metrics)
BY_NAME = {m.name: m for m in METRICS}
assert len(BY_NAME) == len(METRICS), "two experiments declare a metric of the same name"


def read_metrics(results_dir: Path) -> dict[str, float]:
    """Every metric of the run saved in ``results_dir``; a clear error if one is missing."""
    docs: dict[str, dict] = {}
    out = {}
    for m in METRICS:
        path = Path(results_dir) / f"{m.stem}.json"
        if m.stem not in docs:
            if not path.is_file():
                raise VicregError(f"Cannot read metric {m.name}: {path} does not exist. Run "
                                  "the study for this profile and seed first.")
            docs[m.stem] = load_document(path)
        try:
            out[m.name] = m.read(docs[m.stem])
        except (KeyError, IndexError, TypeError, ValueError):
            raise VicregError(f"{path} has no field {'.'.join(map(str, m.field))} for metric "
                              f"{m.name}; it was written by another version. Run the study "
                              "again.") from None
    return out


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1; 0 for a single value)."""
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, 0.0
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))


def across_seeds(per_seed: dict[int, dict[str, float]]) -> dict[str, dict]:
    """{metric: {"mean", "std", "n", "values"}} over the seeds given."""
    seeds = sorted(per_seed)
    out = {}
    for m in METRICS:
        values = [per_seed[s][m.name] for s in seeds]
        mean, std = mean_std(values)
        out[m.name] = {"mean": mean, "std": std, "n": len(values), "values": values}
    return out
