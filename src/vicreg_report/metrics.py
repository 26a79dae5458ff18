"""The study's headline metrics as one flat table, read from a run's saved results.

Verify, the multi-seed evidence and the document's mean ± std all use this one
list, so a metric has one name and one source everywhere: the result file
(``<stem>.json`` in a results folder) and the field inside its ``data``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from .errors import VicregError
from .results import load_document


@dataclass(frozen=True)
class Metric:
    name: str
    stem: str             # result file, without .json
    field: tuple          # path inside the file's "data"; -1 picks a list's last item
    kind: str             # how it is written and how its tolerance floor is chosen

    def read(self, doc: dict) -> float:
        value = doc["data"]
        for part in self.field:
            value = value[part]
        return float(value)


def _each(prefix: str, stem: str, field: tuple, kind: str, encoders: tuple) -> list[Metric]:
    return [Metric(f"{prefix}_{e}", f"{stem}.{e}", field, kind) for e in encoders]


ALL = ("q1", "q4", "q5", "random_init")
EVAL = ("q1", "q5", "random_init")

METRICS: tuple[Metric, ...] = (
    *_each("probe", "probe", ("test_acc",), "percent", ALL),
    *_each("final_train_loss", "train", ("history", "train_epochs", "total", -1), "loss",
           ("q1", "q4", "q5")),
    *_each("final_test_loss", "train", ("history", "test", "total", -1), "loss", ("q1", "q4")),
    *_each("pca_knn", "embedding2d", ("pca_knn_accuracy",), "percent", ALL),
    *_each("tsne_knn", "embedding2d", ("tsne_knn_accuracy",), "percent", ALL),
    *_each("effective_rank", "embedding2d", ("effective_rank",), "rank", ALL),
    *_each("variance_top2", "embedding2d", ("variance_top2",), "percent", ("q1", "q4")),
    *_each("q6", "laplacian", ("probe", "test_acc"), "percent",
           ("raw_pixels", "random_cnn", "q1", "random_init")),
    *_each("probe_standardized", "probe", ("standardized_test_acc",), "percent", ALL),
    *_each("same_class", "retrieval", ("mixing", "same_class_fraction"), "percent",
           ("q1", "q5")),
    *_each("auc", "anomaly", ("auc",), "auc", EVAL),
    *_each("silhouette", "clustering", ("silhouette",), "score", EVAL),
    *_each("ari", "clustering", ("adjusted_rand_index",), "score", EVAL),
    *_each("nmi", "clustering", ("normalized_mutual_info",), "score", EVAL),
)
BY_NAME = {m.name: m for m in METRICS}


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
