"""How sure a comparison is: bootstrap intervals within one run, t-intervals across seeds.

Every "higher", "lower" and every claim verdict of the document is decided by an
interval of the difference a - b, not by the sign of the difference alone:

* one run: a percentile bootstrap. The items a metric averages over (test
  images, anomaly scores, points of a map, training batches, ...) are resampled
  with replacement, RESAMPLES times (SLOW_RESAMPLES for metrics that refit
  something, such as a rank or an ARI). Two metrics over the same items are
  resampled with the same indices, so their difference is paired.
* several seeds: the per-seed differences, mean +- t(0.975, n - 1) * sd / sqrt(n).

The interval holds LEVEL (95%) of the mass. Above zero: "higher"; below zero:
"lower"; otherwise "undecided" (the difference is within the noise).
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

RESAMPLES = 1000
SLOW_RESAMPLES = 200
LEVEL = 0.95
VERDICTS = ("higher", "lower", "undecided")


@dataclass(frozen=True)
class Population:
    """Items that are resampled together: ``sizes`` of each stratum (resampled apart)."""

    name: str
    sizes: tuple[int, ...]

    def indices(self, seed: int, resamples: int = RESAMPLES) -> np.ndarray:
        """(resamples, sum(sizes)) indices, stratum by stratum; the same for the same
        name and seed, so that every metric over this population is paired."""
        return _indices(self, seed, resamples)


@functools.lru_cache(maxsize=4)   # metrics over one population follow each other
def _indices(population: Population, seed: int, resamples: int) -> np.ndarray:
    """``Population.indices``, made once while its metrics are resampled (read-only)."""
    tag = int.from_bytes(hashlib.sha256(population.name.encode()).digest()[:4], "big")
    rng = np.random.default_rng([seed, tag])
    parts, offset = [], 0
    for size in population.sizes:
        parts.append(offset + rng.integers(0, size, size=(resamples, size), dtype=np.int32))
        offset += size
    out = np.concatenate(parts, axis=1)
    out.flags.writeable = False
    return out


def release_indices() -> None:
    """Forget the cached indices (up to 4 x 200 MB at 1000 resamples of 50,000 items)."""
    _indices.cache_clear()


@dataclass(frozen=True)
class Metric:
    """A value of this run and how to recompute it on resampled items (None: exact)."""

    value: float
    population: Population | None = None
    replicate: Callable[[np.ndarray], np.ndarray] | None = None   # indices -> values
    slow: bool = False                                             # SLOW_RESAMPLES suffice
    _done: dict = field(default_factory=dict, compare=False, repr=False)

    def replicates(self, seed: int, resamples: int) -> np.ndarray:
        """The metric on each resample of its population; computed once per (seed,
        resamples), however many comparisons read it."""
        if (seed, resamples) not in self._done:
            self._done[seed, resamples] = self.replicate(self.population.indices(seed,
                                                                                 resamples))
        return self._done[seed, resamples]


def exact(value: float) -> Metric:
    """A number without sampling noise (a published figure, a threshold)."""
    return Metric(float(value))


@dataclass
class Comparison:
    """a - b, with the interval of the difference and the verdict it gives."""

    a: float
    b: float
    diff: float
    low: float
    high: float
    verdict: str         # "higher" | "lower" | "undecided"
    method: str          # "bootstrap" | "seeds" | "exact"
    resamples: int       # bootstrap resamples used (those that hold every class), or seeds


def verdict(low: float, high: float) -> str:
    if low > 0:
        return "higher"
    if high < 0:
        return "lower"
    return "undecided"


def compare(a: Metric, b: Metric, seed: int) -> Comparison:
    """The bootstrap comparison of a and b (paired where they share a population)."""
    diff = a.value - b.value
    noisy = [m for m in (a, b) if m.replicate is not None]
    if not noisy:
        return Comparison(a.value, b.value, diff, diff, diff, verdict(diff, diff), "exact", 0)
    resamples = SLOW_RESAMPLES if any(m.slow for m in noisy) else RESAMPLES
    reps = [m.replicates(seed, resamples) if m.replicate is not None
            else np.full(resamples, m.value) for m in (a, b)]
    diffs = reps[0] - reps[1]
    diffs = diffs[np.isfinite(diffs)]     # a resample without a class has no class accuracy
    if len(diffs) < resamples / 2:        # too few items to resample: nothing is decided
        return Comparison(a.value, b.value, diff, diff, diff, "undecided", "bootstrap",
                          len(diffs))
    low, high = np.quantile(diffs, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return Comparison(a.value, b.value, diff, float(low), float(high),
                      verdict(float(low), float(high)), "bootstrap", len(diffs))


def across_seeds(a: list[float], b: list[float]) -> Comparison:
    """The comparison of a and b over seeds: a t-interval of the per-seed differences."""
    from scipy.stats import t

    d = np.asarray(a, float) - np.asarray(b, float)
    n = len(d)
    mean = float(d.mean())
    if n < 2:
        raise ValueError("a comparison across seeds needs at least two seeds")
    half = float(t.ppf((1 + LEVEL) / 2, n - 1) * d.std(ddof=1) / math.sqrt(n))
    return Comparison(float(np.mean(a)), float(np.mean(b)), mean, mean - half, mean + half,
                      verdict(mean - half, mean + half), "seeds", n)


# ---------------------------------------------------------------- metrics by kind

def mean_of(values: np.ndarray, population: Population) -> Metric:
    """The mean of per-item ``values`` (correct or not, a silhouette, a loss, ...)."""
    values = np.asarray(values, float)
    return Metric(float(values.mean()), population, lambda idx: values[idx].mean(1))


def class_mean_of(correct: np.ndarray, labels: np.ndarray, classes: list[int],
                  population: Population) -> Metric:
    """The mean over ``classes`` of the accuracy within each class (a per-class recall,
    averaged over a group of classes); resampling keeps the items' classes."""
    correct, labels = np.asarray(correct, float), np.asarray(labels)
    n_classes = int(labels.max()) + 1

    def per_class(idx: np.ndarray) -> np.ndarray:
        rows = np.repeat(np.arange(len(idx)), idx.shape[1])
        cells = rows * n_classes + labels[idx].ravel()
        size = len(idx) * n_classes
        hits = np.bincount(cells, weights=correct[idx].ravel(), minlength=size)
        count = np.bincount(cells, minlength=size)
        with np.errstate(invalid="ignore", divide="ignore"):
            acc = (hits / count).reshape(len(idx), n_classes)[:, classes]
        # a resample that lost one of the classes gives NaN, left out by ``compare``
        return acc.mean(axis=1)

    whole = np.arange(len(labels))[None, :]
    return Metric(float(per_class(whole)[0]), population, per_class)


def auc_of(scores: np.ndarray, n_normal: int, population: Population) -> Metric:
    """ROC AUC of scores [normal; anomalous] (anomalies should score higher): the share of
    (normal, anomalous) pairs in the right order, ties counting half. A resample is a
    count of each item; the scores are sorted once, so no resample sorts anything.
    The population must have the two strata (n_normal, n_anomalous)."""
    scores = np.asarray(scores, float)
    levels, level_of = np.unique(scores, return_inverse=True)   # tied scores share a level
    normal_level, anomaly_level = level_of[:n_normal], level_of[n_normal:]

    def auc_rows(idx: np.ndarray) -> np.ndarray:
        n_rows, n_levels = len(idx), len(levels)
        cells = np.arange(n_rows)[:, None] * n_levels + normal_level[idx[:, :n_normal]]
        normals = np.bincount(cells.ravel(), minlength=n_rows * n_levels).reshape(
            n_rows, n_levels).astype(float)                # resampled normals per level
        below = np.cumsum(normals, axis=1) - normals       # normals strictly below a level
        at = anomaly_level[idx[:, n_normal:] - n_normal]   # each resampled anomaly's level
        ordered = np.take_along_axis(below, at, 1) + 0.5 * np.take_along_axis(normals, at, 1)
        return ordered.sum(1) / (n_normal * (idx.shape[1] - n_normal))

    def auc(idx: np.ndarray) -> np.ndarray:    # 100 resamples at a time: bounded memory
        return np.concatenate([auc_rows(idx[i:i + 100]) for i in range(0, len(idx), 100)])

    return Metric(float(auc(np.arange(len(scores))[None, :])[0]), population, auc)


def refit_of(value: float, fn: Callable[[np.ndarray], float], population: Population) -> Metric:
    """A statistic recomputed from scratch on each resample (``fn(indices)``); slow."""
    return Metric(float(value), population, lambda idx: np.array([fn(row) for row in idx]),
                  slow=True)


def share_interval(count: int, n: int) -> tuple[float, float]:
    """Wilson score interval (LEVEL) of a share ``count / n``."""
    from scipy.stats import norm

    if n == 0:
        return 0.0, 1.0
    z = norm.ppf((1 + LEVEL) / 2)
    p = count / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def share_against(count: int, n: int, base: float) -> Comparison:
    """A share among ``n`` items against a base rate: its Wilson interval minus the base."""
    low, high = share_interval(count, n)
    share = count / n if n else 0.0
    return Comparison(share, base, share - base, low - base, high - base,
                      verdict(low - base, high - base), "wilson", n)
