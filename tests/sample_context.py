"""A plausible report context, the figures it names, and variants of it for the tests.

Not a test module: the render, binding and catalogue tests import it.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from vicreg_report import claims as claims_mod
from vicreg_report.claims import evaluate_claims
from vicreg_report.comparisons import comparison_kind
from vicreg_report.context_schema import FIGURE_KEYS
from vicreg_report.report_context import (claim_entry, seed_summary, single_seed,
                                          stale_entries, stale_sections, summary_rows)

TERMS = ("invariance", "variance", "covariance", "total")
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck"]
VEHICLES = ("airplane", "automobile", "ship", "truck")
# Stale results: two whose inputs changed, one unusable for another reason.
STALE = [("embedding2d:q1", "inputs changed (key 6bcb570a -> 0d3004d0); shown as saved, "
          "marked stale"),
         ("clustering:q5", "inputs changed (key dfe750c6 -> 2af98ee6); shown as saved, "
          "marked stale"),
         ("train:q4", "saved result unusable: something else")]
# Each comparison the document reads, as (a, b): context paths, or numbers (thresholds).
# report_context reads them from comparisons.json; here they follow the context's numbers,
# a gap within MARGIN counting as within the noise.
COMPARED = {
    **{f"train_{t}_last_vs_first": (f"training.last.{t}", f"training.first.{t}") for t in TERMS},
    **{f"{t}_test_vs_train": (f"training.test_last.{t}", f"training.last.{t}") for t in TERMS},
    "test_total_last_vs_first": ("training.test_last.total", "training.test_first.total"),
    **{f"probe_{e}_vs_random_init": (f"probes.{e}.test_acc", "probes.random_init.test_acc")
       for e in ("q1", "q4", "q5")},
    "probe_q1_vs_threshold": ("probes.q1.test_acc", "probe.course_threshold"),
    "probe_q1_vs_original": ("probes.q1.test_acc", "original.q3_probe_acc"),
    "probe_q1_train_vs_test": ("probes.q1.train_acc", "probes.q1.test_acc"),
    **{f"probe_class_{c}_q1_vs_random_init": (f"probes.q1.per_class.{c}",
                                              f"probes.random_init.per_class.{c}")
       for c in range(10)},
    **{f"probe_{g}_q1_vs_random_init": (f"probes.q1.{g}", f"probes.random_init.{g}")
       for g in ("vehicles", "animals")},
    **{f"probe_vehicles_vs_animals_{e}": (f"probes.{e}.vehicles", f"probes.{e}.animals")
       for e in ("q1", "random_init")},
    "tsne_vs_pca_knn_q1": ("q2.q1.tsne_knn", "q2.q1.pca_knn"),
    "tsne_vs_pca_silhouette_q1": ("q2.q1.tsne_silhouette", "q2.q1.pca_silhouette"),
    "tsne_knn_q1_vs_random_init": ("q2.q1.tsne_knn", "q2.random_init.tsne_knn"),
    "tsne_vehicles_vs_animals_q1": ("q2.q1.tsne_vehicles", "q2.q1.tsne_animals"),
    "q4_variance_vs_q1": ("q4.last.variance", "training.last.variance"),
    "q4_invariance_vs_q1": ("q4.last.invariance", "training.last.invariance"),
    "effective_rank_q4_vs_q1": ("q2.q4.effective_rank", "q2.q1.effective_rank"),
    "top2_q4_vs_q1": ("q2.q4.top2", "q2.q1.top2"),
    "effective_rank_q4_vs_collapse": ("q2.q4.effective_rank", 6.4),
    "top2_q4_vs_two_lines": ("q2.q4.top2", 0.5),
    "probe_q4_vs_q1": ("probes.q4.test_acc", "probes.q1.test_acc"),
    "probe_q4_vs_original": ("probes.q4.test_acc", "original.q4_probe_acc"),
    "probe_q4_standardized_vs_plain": ("probes.q4.standardized", "probes.q4.test_acc"),
    "probe_q5_vs_q1": ("probes.q5.test_acc", "probes.q1.test_acc"),
    "probe_q5_vs_original": ("probes.q5.test_acc", "original.q5_probe_acc"),
    "q6_raw_pixels_vs_chance": ("q6.raw_pixels.test_acc", "q6.chance"),
    "q6_random_cnn_vs_raw_pixels": ("q6.random_cnn.test_acc", "q6.raw_pixels.test_acc"),
    "q6_q1_vs_best_eigenmaps": ("q6.q1.test_acc", "q6.best"),
    "q6_random_init_vs_best_eigenmaps": ("q6.random_init.test_acc", "q6.best"),
    "q6_raw_pixels_standardized_vs_plain": ("q6.raw_pixels.standardized",
                                            "q6.raw_pixels.test_acc"),
    "same_class_q5_vs_q1": ("q7.q5.same_class", "q7.q1.same_class"),
    "animal_mixing_q5_vs_q1": ("q7.q5.animal_other_animal", "q7.q1.animal_other_animal"),
    **{f"farthest_grey_{e}_vs_dataset": (f"q7.{e}.farthest_grey", "q7.dataset_grey")
       for e in ("q1", "q5")},
    "farthest_grey_q5_vs_q1": ("q7.q5.farthest_grey", "q7.q1.farthest_grey"),
    "farthest_grey_q5_vs_majority": ("q7.q5.farthest_grey", 0.5),
    "farthest_saturation_q5_vs_dataset": ("q7.q5.farthest_saturation", "q7.dataset_saturation"),
    "auc_q5_vs_q1": ("anomaly.q5.auc", "anomaly.q1.auc"),
    **{f"auc_{e}_vs_random_init": (f"anomaly.{e}.auc", "anomaly.random_init.auc")
       for e in ("q1", "q5")},
    "auc_q1_vs_original": ("anomaly.q1.auc", "original.anomaly_auc_q1"),
    "silhouette_q5_vs_q1": ("clustering.q5.silhouette", "clustering.q1.silhouette"),
    **{f"silhouette_{e}_vs_random_init": (f"clustering.{e}.silhouette",
                                          "clustering.random_init.silhouette")
       for e in ("q1", "q5")},
    "silhouette_q1_vs_original": ("clustering.q1.silhouette", "original.silhouette_q1"),
    "ari_q5_vs_q1": ("clustering.q5.ari", "clustering.q1.ari"),
    "nmi_q5_vs_q1": ("clustering.q5.nmi", "clustering.q1.nmi"),
    "ari_q1_vs_random_init": ("clustering.q1.ari", "clustering.random_init.ari"),
}
MARGIN = 1e-6


def _value(ctx: dict, where):
    if not isinstance(where, str):
        return where
    value = ctx
    for part in where.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def verdicts(ctx: dict) -> dict:
    """Every comparison of COMPARED, and the shares of the claimed digits (against a base
    rate of one in ten), decided by the context's own numbers."""
    q6 = ctx["q6"]
    q6["best"] = max(q6["raw_pixels"]["test_acc"], q6["random_cnn"]["test_acc"])
    compared = dict(COMPARED)
    for enc in ("q1", "q5"):
        shown = ctx["anomaly"][enc]["wide_digit_counts"]
        for digit in claims_mod.ANOMALY_DIGITS:
            ctx["anomaly"][enc][f"share_{digit}"] = shown.get(digit, 0) / max(sum(shown.values()), 1)
            compared[f"digit_{digit}_{enc}"] = (f"anomaly.{enc}.share_{digit}", 0.1)
    out = {}
    for name, (a, b) in compared.items():
        va, vb = float(_value(ctx, a)), float(_value(ctx, b))
        diff = va - vb
        word = "higher" if diff > MARGIN else "lower" if diff < -MARGIN else "equal"
        out[name] = {"a": va, "b": vb, "diff": diff, "low": diff - MARGIN / 2,
                     "high": diff + MARGIN / 2, "resamples": 1000, "method": "bootstrap",
                     "verdict": "undecided" if word == "equal" else word, "word": word,
                     "kind": comparison_kind(name)}
    return out


STAGES = ("train:q1", "train:q4", "train:q5", "probe:q1", "probe:q4", "probe:q5",
          "probe:random_init", "embedding2d:q1", "laplacian:raw_pixels", "anomaly:q1",
          "clustering:q5")


def make_context() -> dict:
    """A plausible context in the shape report_context.build_context returns."""
    ctx = {
        "meta": {"generated": "2026-11-28T10:00:00Z", "commit": "abc1234", "profile": "quick"},
        "setup": {
            "data_source": "zip:../shared/data/cifar10-jpeg.zip",
            "data_fingerprint": "3f9a1c0de4b27781", "data_verified": True,
            "profile": {"name": "quick", "arch": "cnn", "width": 32, "train_images": 10_000,
                        "test_images": 9_000, "epochs": 8, "batch_size": 256, "lr": 1e-3,
                        "weight_decay": 1e-6, "lam": 25.0, "mu": 24.0, "nu": 1.0, "gamma": 1.0,
                        "eps": 1e-4, "seed": 7, "config_hash": "9c1d2e3f4a5b6c7d"},
            "device": "cpu (x86_64, 2 threads)", "python": "3.11.7", "torch": "2.14.1",
            "torchvision": "0.29.1",
            "wall_time": {"train_s": 185.3, "probe_s": 42.2, "experiments_s": 24.4, "total_s": 251.9},
        },
        "training": {
            "figure": "figures/training_curves.png", "steps": 312, "epochs": 8,
            "steps_per_epoch": 39, "test_batches": 7, "batch_size": 256,
            "first": {"invariance": 0.912, "variance": 1.874, "covariance": 0.0123,
                      "total": 47.782},
            "last": {"invariance": 0.217, "variance": 0.0412, "covariance": 0.6634,
                     "total": 7.116},
            "test_first": {"invariance": 0.351, "variance": 0.312, "covariance": 0.524,
                           "total": 17.021},
            "test_last": {"invariance": 0.264, "variance": 0.0398, "covariance": 0.7012,
                          "total": 8.296},
        },
        "probe": {
            "trained": {"test_acc": 0.6123, "train_acc": 0.6689},
            "random_init": {"test_acc": 0.3487, "train_acc": 0.3712},
            "original": {"test_acc": 0.724}, "course_threshold": 0.60,
            "settings": {"epochs": 100, "lr": 2e-3, "batch_size": 1024,
                         "train_images": 10_000, "test_images": 9_000},
        },
        "probes": {
            "classes": list(CLASSES),
            "q1": _probe_entry(0.6123, 0.6689, [0.7012, 0.7805, 0.4823, 0.4177, 0.5544,
                                                 0.5021, 0.6834, 0.6612, 0.7698, 0.7312]),
            "q4": _probe_entry(0.1689, 0.1702, [0.2511, 0.2233, 0.0912, 0.1044, 0.1321,
                                                 0.0977, 0.2105, 0.1488, 0.2456, 0.1843]),
            "q5": _probe_entry(0.4812, 0.5023, [0.5612, 0.6201, 0.3512, 0.3023, 0.4011,
                                                 0.3876, 0.5523, 0.5102, 0.6034, 0.5837]),
            "random_init": _probe_entry(0.3487, 0.3712, [0.4412, 0.4023, 0.2511, 0.2034,
                                                          0.3012, 0.2398, 0.3689, 0.3301,
                                                          0.4687, 0.4267]),
        },
        "q2": {
            "figure": "figures/q2_pca_tsne.png", "points": 2_000, "knn_k": 10, "knn_folds": 5,
            "tsne_method": "openTSNE-fft", "perplexity": 30.0,
            "q1": _map_entry(0.3512, 0.5874, -0.0412, 0.0631, [0.1423, 0.0911], 0.6825, 0.5213,
                             41.27, 0.1423, 0.2334, 0.5512),
            "q4": _map_entry(0.1633, 0.2145, -0.1203, -0.0534, [0.7012, 0.2113], 0.2311, 0.1822,
                             3.18, 0.7012, 0.9125, 0.9988),
            "q5": _map_entry(0.3011, 0.4866, -0.0533, 0.0412, [0.1802, 0.1104], 0.5521, 0.4312,
                             33.65, 0.1802, 0.2906, 0.6233),
            "random_init": _map_entry(0.2577, 0.3623, -0.0811, 0.0104, [0.3422, 0.1233], 0.4102,
                                      0.3055, 12.44, 0.3422, 0.4655, 0.8344),
        },
        "q4": {
            "figure_maps": "figures/q4_pca_tsne.png", "figure_spectra": "figures/pca_spectra.png",
            "figure_curves": "figures/q4_training_curves.png", "probe": 0.1689,
            "last": {"invariance": 0.0123, "variance": 0.9377, "covariance": 0.0041,
                     "total": 0.3116},
            "test_last": {"invariance": 0.0131, "variance": 0.9412, "covariance": 0.0044,
                          "total": 0.3319},
        },
        "q5": {"epochs": 1, "neighbours": 3, "steps": 39, "probe": 0.4812, "other_runs": [0.501]},
        "q6": {
            "figure": "figures/q6_laplacian_tsne.png", "figure_sweep": "figures/q6_eigenvectors.png",
            "images": 2_000, "neighbors": 10, "tried": [2, 4, 8, 16, 32, 64, 128],
            "fit_size": 1_600, "val_size": 200, "test_size": 200, "chance": 0.1,
            "raw_pixels": {"test_acc": 0.1050, "train_acc": 0.1122, "val_acc": 0.1150,
                           "standardized": 0.2250, "components": 8,
                           "standardized_components": 16, "graph_components": 3,
                           "feature_dim": 3072},
            "random_cnn": {"test_acc": 0.1850, "train_acc": 0.2011, "val_acc": 0.1900,
                           "standardized": 0.2650, "components": 32,
                           "standardized_components": 32, "graph_components": 1,
                           "feature_dim": 1024},
            "q1": {"test_acc": 0.5450, "train_acc": 0.6533, "val_acc": 0.5350,
                   "standardized": 0.5550},
            "random_init": {"test_acc": 0.3050, "train_acc": 0.3322, "val_acc": 0.3000,
                            "standardized": 0.3900},
        },
        "q7": {
            "figure_q1": "figures/q7_retrieval_q1.png", "figure_q5": "figures/q7_retrieval_q5.png",
            "q1": _retrieval_entry(0.5512, 0.2623, 0.0712, 0.1200, 0.1523, 17),
            "q5": _retrieval_entry(0.4231, 0.3512, 0.0911, 0.6200, 0.0611, 9),
            "dataset_grey": 0.0270, "dataset_saturation": 0.2811, "grey_threshold": 0.05,
        },
        "anomaly": {
            "figure_roc": "figures/anomaly_roc.png", "figure_top": "figures/anomaly_top.png",
            "k": 2, "top": 7, "wide_top": 100,
            "q1": _anomaly_entry(0.9123, {"8": 4, "0": 3}, {"8": 31, "0": 22, "2": 17, "6": 9,
                                                           "3": 8, "5": 6, "9": 3, "1": 1}),
            "q5": _anomaly_entry(0.9456, {"1": 5, "7": 2}, {"1": 40, "7": 19, "4": 13, "9": 9,
                                                           "2": 5, "8": 3, "0": 2, "6": 1}),
            "random_init": _anomaly_entry(0.8512, {"0": 3, "8": 3}, {"0": 25, "8": 20, "2": 14,
                                                                    "6": 11, "3": 7, "5": 6}),
        },
        "clustering": {
            "figure": "figures/clustering_tsne.png", "clusters": 10,
            "q1": {"silhouette": 0.0712, "ari": 0.2134, "nmi": 0.3312, "sample": 5_000,
                   "dimensions": 128},
            "q5": {"silhouette": 0.1288, "ari": 0.1534, "nmi": 0.2687, "sample": 5_000,
                   "dimensions": 128},
            "random_init": {"silhouette": 0.0523, "ari": 0.0812, "nmi": 0.1523, "sample": 5_000,
                            "dimensions": 128},
        },
        "original": {"q3_probe_acc": 0.7240, "q4_probe_acc": 0.1523, "q5_probe_acc": 0.5190,
                     "q6_probe_acc_raw_pixels": 0.10, "anomaly_auc_q1": 0.9348,
                     "anomaly_auc_q5": 0.9590, "silhouette_q1": 0.0884, "silhouette_q5": 0.1453},
        "stale": [],
        "provenance": provenance_entry(),
    }
    return derive(ctx)


def provenance_entry(varying: bool = True) -> dict:
    """The appendix: every result shares the common fields, train:q4 has its own
    configuration hash (Q4 is trained with mu = 0)."""
    common = {"commit": "abc1234", "profile": "quick", "seed": 7,
              "config_hash": "9c1d2e3f4a5b6c7d",
              "data_source": "zip:../shared/data/cifar10-jpeg.zip",
              "data_fingerprint": "3f9a1c0de4b27781", "device": "cpu (x86_64, 2 threads)",
              "python": "3.11.7", "torch": "2.14.1", "torchvision": "0.29.1", "numpy": "2.1.3"}
    rows = [{"stage": stage, "wall_time_s": 12.5 + i, "stage_key": f"{i:02d}ab34cd"}
            for i, stage in enumerate(STAGES)]
    if varying:
        for row in rows:
            row["config_hash"] = "77aa88bb99cc00dd" if row["stage"] == "train:q4" else None
    return {"common": common, "varying": ["config_hash"] if varying else [], "rows": rows,
            "total_s": sum(r["wall_time_s"] for r in rows), "seeds": [7], "seeds_known": True,
            "command": "nox -s report -- --profile quick --seed 7"}


def derive(ctx: dict) -> dict:
    """Fill the keys report_context derives from the others: the probe accuracies
    repeated in ``probe``/``q4``/``q5``, the claims (by the project's own rules) and
    the summary rows.  Call again after changing a number in a test."""
    pr = ctx["probes"]
    for enc in ("q1", "q4", "q5", "random_init"):
        per_class = pr[enc]["per_class"]
        pr[enc]["vehicles"] = sum(a for a, c in zip(per_class, CLASSES) if c in VEHICLES) / 4
        pr[enc]["animals"] = sum(a for a, c in zip(per_class, CLASSES) if c not in VEHICLES) / 6
    ctx["probe"]["trained"] = {k: pr["q1"][k] for k in ("test_acc", "train_acc", "standardized")}
    ctx["probe"]["random_init"] = {k: pr["random_init"][k]
                                   for k in ("test_acc", "train_acc", "standardized")}
    ctx["q4"]["probe"], ctx["q5"]["probe"] = pr["q4"]["test_acc"], pr["q5"]["test_acc"]
    pr["classes"] = list(CLASSES)
    pr["groups"] = {"vehicles": [c for c in CLASSES if c in VEHICLES],
                    "animals": [c for c in CLASSES if c not in VEHICLES]}
    pr["group_of"] = {c: "vehicles" if c in VEHICLES else "animals" for c in CLASSES}
    ctx["seeds"] = single_seed(ctx)
    ctx["setup"]["seeds"] = seed_summary(ctx["seeds"], ctx["setup"]["profile"]["seed"],
                                         [ctx["setup"]["profile"]["seed"]])
    ctx["stale"] = stale_entries(ctx.get("stale", []))
    ctx["stale_sections"] = stale_sections(ctx["stale"])
    ctx["verdicts"] = verdicts(ctx)
    ctx["uncertainty"] = {"level": 0.95, "resamples": 1000, "slow_resamples": 200,
                          "claims_over_seeds": False}
    ctx["claims"] = [claim_entry(c) for c in evaluate_claims(ctx["verdicts"])]
    ctx["summary"] = summary_rows(ctx, ctx["verdicts"])
    return ctx


def several_seeds(ctx: dict, n: int = 3) -> dict:
    """``ctx`` as a document of ``n`` seeds: every metric spread around the first
    seed's value (the mean a little above it), the summary rebuilt."""
    for i, (name, entry) in enumerate(sorted(ctx["seeds"].items())):
        first = entry["values"][0]
        values = [first + 0.001 * (i % 7 + 1) * k for k in range(n)]
        mean = sum(values) / n
        std = (sum((v - mean) ** 2 for v in values) / (n - 1)) ** 0.5
        ctx["seeds"][name] = {"mean": mean, "std": std, "n": n, "values": values}
    ctx["setup"]["seeds"] = seed_summary(ctx["seeds"], ctx["setup"]["profile"]["seed"],
                                         [ctx["setup"]["profile"]["seed"], 11, 12][:n])
    ctx["uncertainty"]["claims_over_seeds"] = True
    ctx["summary"] = summary_rows(ctx, seed_verdicts(ctx))
    return ctx


# The summary's comparisons: (the metric of this run, the control's).
SUMMARY_PAIRS = {f"probe_{e}_vs_random_init": (f"probe_{e}", "probe_random_init")
                 for e in ("q1", "q4", "q5")} | \
    {f"{m}_{e}_vs_random_init": (f"{m}_{e}", f"{m}_random_init")
     for m in ("auc", "silhouette") for e in ("q1", "q5")}


def seed_verdicts(ctx: dict) -> dict:
    """The summary's comparisons over the seeds, as report_context decides them."""
    from vicreg_report.report_context import comparison_entries
    from vicreg_report.uncertainty import across_seeds

    return comparison_entries({
        name: across_seeds(ctx["seeds"][a]["values"], ctx["seeds"][b]["values"])
        for name, (a, b) in SUMMARY_PAIRS.items()})


def _probe_entry(test_acc: float, train_acc: float, per_class: list[float]) -> dict:
    return {"test_acc": test_acc, "train_acc": train_acc, "per_class": per_class,
            "standardized": test_acc + 0.0125, "feature_std": 0.5 + test_acc}


def _map_entry(pca_knn, tsne_knn, pca_sil, tsne_sil, pca_ratio, tsne_vehicles, tsne_animals,
               effective_rank, top1, top2, top10) -> dict:
    return {"pca_knn": pca_knn, "tsne_knn": tsne_knn, "pca_silhouette": pca_sil,
            "tsne_silhouette": tsne_sil, "pca_ratio": pca_ratio, "tsne_vehicles": tsne_vehicles,
            "tsne_animals": tsne_animals, "pca_vehicles": tsne_vehicles - 0.2,
            "pca_animals": tsne_animals - 0.2, "effective_rank": effective_rank, "top1": top1,
            "top2": top2, "top10": top10, "dimensions": 128}


def _retrieval_entry(same, animal_other, animal_vehicle, grey, saturation, distinct) -> dict:
    return {"same_class": same, "animal_other_animal": animal_other,
            "animal_vehicle": animal_vehicle, "farthest_grey": grey,
            "farthest_saturation": saturation, "farthest_distinct": distinct, "k": 5,
            "mixing_k": 5}


def _anomaly_entry(auc: float, top: dict[str, int], wide: dict[str, int]) -> dict:
    ordered = lambda counts: [{"digit": d, "count": n}  # noqa: E731
                              for d, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    top_anomalies, wide_digits = sum(top.values()), sum(wide.values())
    return {"auc": auc, "top_normal": 7 - top_anomalies, "top_anomalies": top_anomalies,
            "top_digits": ordered(top), "wide_normal": 100 - wide_digits,
            "wide_digits": ordered(wide),
            "wide_digit_counts": {str(d): wide.get(str(d), 0) for d in range(10)},
            "leading_digit": ordered(wide)[0]["digit"], "leading_count": ordered(wide)[0]["count"]}


def figure_paths(ctx: dict) -> list[str]:
    """Every figure path the context names (relative to the markdown file)."""
    return [ctx[section][key] for section, key in FIGURE_KEYS]


def write_figures(out_dir: Path, ctx: dict) -> None:
    for rel in figure_paths(ctx):
        write_figure(out_dir, rel)


def write_figure(out_dir: Path, rel: str) -> Path:
    path = out_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (64, 40), "white")
    for x in range(64):
        img.putpixel((x, 39 - min(39, int(40 * 0.95 ** x))), (31, 95, 168))
    img.save(path)
    return path


def variant(change) -> dict:
    """make_context() with ``change(ctx)`` applied and the derived keys recomputed."""
    ctx = make_context()
    change(ctx)
    return derive(ctx)


def swap(d: dict, a: str, b: str) -> None:
    d[a], d[b] = d[b], d[a]


def set_values(d: dict, **values):
    d.update(values)
