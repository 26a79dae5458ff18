"""Every comparison the document words or a claim rests on, with its interval (a stage).

``measures`` names each metric of this run together with the items it averages
over (uncertainty.Metric); ``PAIRS`` names each comparison as (metric a, metric
b); ``compare_all`` computes them all (bootstrap, uncertainty.py). The document
reads a comparison's verdict ("higher", "lower", "undecided") where it says that
one number is higher than another, and the claims read theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from .config import ANIMALS, ENCODERS, VEHICLES
from .errors import VicregError
from .data import study_subsets
from .embedding2d import effective_rank, pca_spectrum
from .losses import TERM_NAMES
from .original import original
from .uncertainty import LEVEL, Comparison, Metric, Population, auc_of, class_mean_of, \
    compare, exact, mean_of, refit_of, share_against

# "Collapse" (Q4) as decided in advance: an effective rank of at most this share of the
# representation's dimensions, and the top two principal components holding at least
# this share of the variance ("the PCA plot falls onto about two lines").
COLLAPSE_RANK_SHARE = 0.05
TWO_LINES_VARIANCE = 0.5
GREY_MAJORITY = 0.5           # "dominated by black and white": over half near-grey
# The two MNIST digits the original write-up saw the two encoders favour among the most
# anomalous images, one each (in either order).
ANOMALY_DIGITS = ("8", "1")
CHANCE = 0.1                  # ten balanced classes


@dataclass
class ComparisonsResult:
    level: float
    seed: int
    comparisons: dict[str, Comparison]


def _ids(classes: list[str], names: tuple[str, ...]) -> list[int]:
    return [i for i, c in enumerate(classes) if c in names]


def _probes(m: dict, study, test_y, train_y) -> None:
    classes = study.data.classes
    test_pop = Population("probe test images", (len(test_y),))
    train_pop = Population("probe train images", (len(train_y),))
    for enc in ENCODERS:
        a = study.arrays[f"probe:{enc}"]
        correct = a["test_pred"] == test_y
        m[f"probe_{enc}"] = mean_of(correct, test_pop)
        m[f"probe_{enc}_train"] = mean_of(a["train_pred"] == train_y, train_pop)
        m[f"probe_{enc}_standardized"] = mean_of(a["standardized_test_pred"] == test_y, test_pop)
        for group, names in (("vehicles", VEHICLES), ("animals", ANIMALS)):
            m[f"probe_{enc}_{group}"] = class_mean_of(correct, test_y, _ids(classes, names),
                                                      test_pop)
        for c in range(len(classes)):
            m[f"probe_{enc}_class_{c}"] = class_mean_of(correct, test_y, [c], test_pop)


def _maps(m: dict, study) -> None:
    classes = study.data.classes
    for enc in ENCODERS:
        a = study.arrays[f"embedding2d:{enc}"]
        points = Population("map points", (len(a["labels"]),))
        for space in ("pca", "tsne"):
            correct = a[f"{space}_knn_pred"] == a["labels"]
            m[f"{space}_knn_{enc}"] = mean_of(correct, points)
            m[f"{space}_silhouette_{enc}"] = mean_of(a[f"{space}_silhouette_values"], points)
            for group, names in (("vehicles", VEHICLES), ("animals", ANIMALS)):
                m[f"{space}_{group}_{enc}"] = class_mean_of(correct, a["labels"],
                                                            _ids(classes, names), points)


def _collapse(m: dict, study) -> None:
    for enc in ("q1", "q4"):
        reps = study.reps[enc].test
        rows = Population("test representations", (len(reps),))
        record = study.results[f"embedding2d:{enc}"].result
        m[f"effective_rank_{enc}"] = refit_of(
            record.effective_rank, lambda idx, x=reps: effective_rank(x[idx]), rows)
        m[f"top2_{enc}"] = refit_of(
            record.variance_top2, lambda idx, x=reps: float(pca_spectrum(x[idx])[:2].sum()), rows)
        m[f"collapse_rank_{enc}"] = exact(COLLAPSE_RANK_SHARE * reps.shape[1])


def _laplacian(m: dict, study) -> None:
    labels = study.arrays["laplacian:raw_pixels"]["labels"]
    test = study.arrays["laplacian:raw_pixels"]["test"]
    points = Population("Q6 test images", (len(test),))
    for v in ("raw_pixels", "random_cnn", "q1", "random_init"):
        a = study.arrays[f"laplacian:{v}"]
        if not np.array_equal(a["test"], test):
            raise VicregError(f"laplacian:{v} was scored on another split than raw_pixels; "
                              "recompute the Q6 stages together (--force laplacian)")
        m[f"q6_{v}"] = mean_of(a["test_pred"] == labels[a["test"]], points)
        if "standardized_test_pred" in a:
            m[f"q6_{v}_standardized"] = mean_of(a["standardized_test_pred"] == labels[test],
                                                points)
    best = max(("raw_pixels", "random_cnn"), key=lambda v: m[f"q6_{v}"].value)
    m["q6_best_eigenmaps"] = m[f"q6_{best}"]


def _retrieval(m: dict, study, train_y) -> None:
    animals = np.asarray(_ids(study.data.classes, ANIMALS))
    is_animal = np.isin(train_y, animals)
    colour = study.results["retrieval:q1"].result.colour
    for enc in ("q1", "q5"):
        a = study.arrays[f"retrieval:{enc}"]
        found = train_y[a["neighbours"]]
        same = found == train_y[:, None]
        other_animal = (np.isin(found, animals) & ~same).mean(1)
        m[f"same_class_{enc}"] = mean_of(same.mean(1), Population("train images",
                                                                  (len(train_y),)))
        m[f"animal_mixing_{enc}"] = mean_of(other_animal[is_animal], Population(
            "animal train images", (int(is_animal.sum()),)))
        queries = Population("retrieval queries", (len(a["farthest_saturation"]),))
        grey = (a["farthest_saturation"] < colour.grey_threshold).mean(1)
        m[f"farthest_grey_{enc}"] = mean_of(grey, queries)
        m[f"farthest_saturation_{enc}"] = mean_of(a["farthest_saturation"].mean(1), queries)
    m["dataset_grey"] = exact(colour.dataset_grey_fraction)
    m["dataset_saturation"] = exact(colour.dataset_mean_saturation)
    m["grey_majority"] = exact(GREY_MAJORITY)


def _anomaly_and_clusters(m: dict, study, train_y) -> None:
    for enc in ("q1", "q5", "random_init"):
        record = study.results[f"anomaly:{enc}"].result
        scores = study.arrays[f"anomaly:{enc}"]["scores"]
        m[f"auc_{enc}"] = auc_of(scores, record.n_normal, Population(
            "anomaly test points", (record.n_normal, record.n_anomalous)))
        a, c = study.arrays[f"clustering:{enc}"], study.results[f"clustering:{enc}"].result
        m[f"silhouette_{enc}"] = mean_of(a["silhouette_values"], Population(
            "silhouette sample", (len(a["silhouette_values"]),)))
        assigned = np.asarray(c.assignments)
        points = Population("train images", (len(train_y),))
        m[f"ari_{enc}"] = refit_of(c.adjusted_rand_index, lambda idx, z=assigned:
                                   adjusted_rand_score(train_y[idx], z[idx]), points)
        m[f"nmi_{enc}"] = refit_of(c.normalized_mutual_info, lambda idx, z=assigned:
                                   normalized_mutual_info_score(train_y[idx], z[idx]), points)


def _losses(m: dict, study) -> None:
    for enc in ("q1", "q4"):
        h = study.trained[enc].history
        spe = h.steps_per_epoch
        test = Population("test batches", (len(h.test_batches["total"][0]),))
        for term in TERM_NAMES:
            for when, batches in (("first", slice(0, spe)), ("last", slice(-spe, None))):
                # the mean of these batches is h.train_epochs[term][0] (or [-1])
                m[f"{enc}_train_{when}_{term}"] = mean_of(h.train[term][batches], Population(
                    f"{enc} training batches, {when} epoch", (spe,)))
            m[f"{enc}_test_first_{term}"] = mean_of(h.test_batches[term][0], test)
            m[f"{enc}_test_last_{term}"] = mean_of(h.test_batches[term][-1], test)


def measures(run, study) -> dict[str, Metric]:
    """Every metric a comparison reads, by name."""
    d, p = study.data, run.profile
    train_idx, test_idx = study_subsets(p, d)
    reported = original()
    m = {"original_" + k: exact(v) for k, v in reported["reported"].items()}
    m["course_threshold"] = exact(reported["course_threshold_probe_acc"])
    m["chance"] = exact(CHANCE)
    m["two_lines"] = exact(TWO_LINES_VARIANCE)
    _probes(m, study, d.test_y[test_idx], d.train_y[train_idx])
    _maps(m, study)
    _collapse(m, study)
    _laplacian(m, study)
    _retrieval(m, study, d.train_y[train_idx])
    _anomaly_and_clusters(m, study, d.train_y[train_idx])
    _losses(m, study)
    return m


def pairs(n_classes: int) -> dict[str, tuple[str, str]]:
    """Comparison name -> (metric a, metric b): the question "is a higher than b?"."""
    out = {
        **{f"probe_{e}_vs_random_init": (f"probe_{e}", "probe_random_init")
           for e in ("q1", "q4", "q5")},
        "probe_q4_vs_q1": ("probe_q4", "probe_q1"), "probe_q5_vs_q1": ("probe_q5", "probe_q1"),
        "probe_q1_vs_threshold": ("probe_q1", "course_threshold"),
        "probe_q1_vs_original": ("probe_q1", "original_q3_probe_acc"),
        "probe_q4_vs_original": ("probe_q4", "original_q4_probe_acc"),
        "probe_q5_vs_original": ("probe_q5", "original_q5_probe_acc"),
        "probe_q1_train_vs_test": ("probe_q1_train", "probe_q1"),
        "probe_q4_standardized_vs_plain": ("probe_q4_standardized", "probe_q4"),
        "probe_vehicles_vs_animals_q1": ("probe_q1_vehicles", "probe_q1_animals"),
        "probe_vehicles_vs_animals_random_init": ("probe_random_init_vehicles",
                                                  "probe_random_init_animals"),
        "probe_vehicles_q1_vs_random_init": ("probe_q1_vehicles", "probe_random_init_vehicles"),
        "probe_animals_q1_vs_random_init": ("probe_q1_animals", "probe_random_init_animals"),
        **{f"probe_class_{c}_q1_vs_random_init": (f"probe_q1_class_{c}",
                                                  f"probe_random_init_class_{c}")
           for c in range(n_classes)},
        "tsne_vs_pca_knn_q1": ("tsne_knn_q1", "pca_knn_q1"),
        "tsne_knn_q1_vs_random_init": ("tsne_knn_q1", "tsne_knn_random_init"),
        "tsne_vs_pca_silhouette_q1": ("tsne_silhouette_q1", "pca_silhouette_q1"),
        "tsne_vehicles_vs_animals_q1": ("tsne_vehicles_q1", "tsne_animals_q1"),
        "top2_q4_vs_q1": ("top2_q4", "top2_q1"),
        "top2_q4_vs_two_lines": ("top2_q4", "two_lines"),
        "effective_rank_q4_vs_q1": ("effective_rank_q4", "effective_rank_q1"),
        "effective_rank_q4_vs_collapse": ("effective_rank_q4", "collapse_rank_q4"),
        "q6_raw_pixels_vs_chance": ("q6_raw_pixels", "chance"),
        "q6_random_cnn_vs_raw_pixels": ("q6_random_cnn", "q6_raw_pixels"),
        "q6_q1_vs_best_eigenmaps": ("q6_q1", "q6_best_eigenmaps"),
        "q6_random_init_vs_best_eigenmaps": ("q6_random_init", "q6_best_eigenmaps"),
        "q6_raw_pixels_standardized_vs_plain": ("q6_raw_pixels_standardized", "q6_raw_pixels"),
        "same_class_q5_vs_q1": ("same_class_q5", "same_class_q1"),
        "animal_mixing_q5_vs_q1": ("animal_mixing_q5", "animal_mixing_q1"),
        "farthest_grey_q5_vs_q1": ("farthest_grey_q5", "farthest_grey_q1"),
        "farthest_grey_q5_vs_majority": ("farthest_grey_q5", "grey_majority"),
        **{f"farthest_grey_{e}_vs_dataset": (f"farthest_grey_{e}", "dataset_grey")
           for e in ("q1", "q5")},
        "farthest_saturation_q5_vs_dataset": ("farthest_saturation_q5", "dataset_saturation"),
        "auc_q5_vs_q1": ("auc_q5", "auc_q1"),
        **{f"auc_{e}_vs_random_init": (f"auc_{e}", "auc_random_init") for e in ("q1", "q5")},
        "auc_q1_vs_original": ("auc_q1", "original_anomaly_auc_q1"),
        "silhouette_q5_vs_q1": ("silhouette_q5", "silhouette_q1"),
        **{f"silhouette_{e}_vs_random_init": (f"silhouette_{e}", "silhouette_random_init")
           for e in ("q1", "q5")},
        "silhouette_q1_vs_original": ("silhouette_q1", "original_silhouette_q1"),
        "ari_q5_vs_q1": ("ari_q5", "ari_q1"), "nmi_q5_vs_q1": ("nmi_q5", "nmi_q1"),
        "ari_q1_vs_random_init": ("ari_q1", "ari_random_init"),
        "q4_variance_vs_q1": ("q4_train_last_variance", "q1_train_last_variance"),
        "q4_invariance_vs_q1": ("q4_train_last_invariance", "q1_train_last_invariance"),
    }
    for term in TERM_NAMES:
        out[f"train_{term}_last_vs_first"] = (f"q1_train_last_{term}", f"q1_train_first_{term}")
        out[f"test_{term}_last_vs_first"] = (f"q1_test_last_{term}", f"q1_test_first_{term}")
        out[f"{term}_test_vs_train"] = (f"q1_test_last_{term}", f"q1_train_last_{term}")
    return out


# How a comparison's numbers are written, by a word of the metric it compares.
KINDS = (("auc_", "auc"), ("silhouette", "score"), ("ari_", "score"), ("nmi_", "score"),
         ("saturation", "score"), ("effective_rank", "rank"), ("_train_", "loss"),
         ("_test_", "loss"), ("collapse_rank", "rank"))


def comparison_kind(name: str) -> str:
    """'percent', 'auc', 'score', 'rank' or 'loss': how a comparison's numbers are written
    (digit shares and every other share or accuracy: 'percent')."""
    metric = pairs(0).get(name, (name, ""))[0]
    return next((kind for word, kind in KINDS if word in metric), "percent")


def digit_shares(study) -> dict[str, Comparison]:
    """Each claimed digit's share among the MNIST images of each encoder's most anomalous
    test points, against its share of the MNIST test set (Wilson interval)."""
    out = {}
    for enc in ("q1", "q5"):
        r = study.results[f"anomaly:{enc}"].result
        shown = r.wide_top - r.wide_top_normal_count
        total = sum(r.anomaly_label_counts.values())
        for digit in ANOMALY_DIGITS:
            out[f"digit_{digit}_{enc}"] = share_against(
                r.wide_top_label_counts[digit], shown, r.anomaly_label_counts[digit] / total)
    return out


def compare_all(run, study) -> ComparisonsResult:
    m = measures(run, study)
    seed = run.profile.seed
    done = {name: compare(m[a], m[b], seed)
            for name, (a, b) in pairs(len(study.data.classes)).items()}
    return ComparisonsResult(level=LEVEL, seed=seed, comparisons={**done, **digit_shares(study)})
