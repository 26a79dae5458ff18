"""A plausible report context, the figures it names, and variants of it for the tests.

Not a test module: the render, binding and catalogue tests import it.
"""

from __future__ import annotations

import copy
from pathlib import Path

from PIL import Image

from vicreg_report import claims as claims_mod
from vicreg_report.claims import evaluate_claims
from vicreg_report.comparisons import comparison_kind
from vicreg_report.comparisons import pairs
from vicreg_report.context_schema import FIGURE_KEYS
from vicreg_report.experiments import REGISTRY
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
    "probe_q5_vs_q1": ("probes.q5.test_acc", "probes.q1.test_acc"),
    "probe_q5_vs_original": ("probes.q5.test_acc", "original.q5_probe_acc"),
    "q6_raw_pixels_vs_chance": ("q6.raw_pixels.test_acc", "q6.chance"),
    "q6_random_cnn_vs_raw_pixels": ("q6.random_cnn.test_acc", "q6.raw_pixels.test_acc"),
    "q6_q1_vs_best_eigenmaps": ("q6.q1.test_acc", "q6.best"),
    "q6_random_init_vs_best_eigenmaps": ("q6.random_init.test_acc", "q6.best"),
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
    rate of one in ten), decided by the context's own numbers; any other comparison an
    experiment declares (comparisons.pairs), "higher" (0.6 against 0.5)."""
    q6 = ctx["q6"]
    q6["best"] = max(q6["raw_pixels"]["test_acc"], q6["random_cnn"]["test_acc"])
    compared = {name: (0.6, 0.5) for name in pairs(len(CLASSES))} | COMPARED
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
    """A plausible context in the shape report_context.build_context returns: each
    experiment's part is its example (``Experiment.example``)."""
    ctx = {
        "meta": {"generated": "2026-11-28T10:00:00Z", "commit": "abc1234", "profile": "quick"},
        "setup": {
            "data_source": "zip:../shared/data/cifar10-jpeg.zip",
            "data_fingerprint": "3f9a1c0de4b27781", "data_verified": True,
            "profile": {"name": "quick", "arch": "cnn", "width": 32, "view_size": 16, "views_resized": True,
                        "encode_size": 24, "inputs_resized": True,
                        "train_images": 10_000,
                        "test_images": 9_000, "epochs": 8, "batch_size": 256, "lr": 1e-3,
                        "weight_decay": 1e-6, "lam": 25.0, "mu": 24.0, "nu": 1.0, "gamma": 1.0,
                        "eps": 1e-4, "seed": 7, "config_hash": "9c1d2e3f4a5b6c7d"},
            "device": "cpu (x86_64, 2 threads)", "python": "3.11.7", "torch": "2.14.1",
            "torchvision": "0.29.1",
            "wall_time": {"train_s": 185.3, "probe_s": 42.2, "experiments_s": 24.4, "total_s": 251.9},
        },
        "original": {"q3_probe_acc": 0.7240, "q4_probe_acc": 0.1523, "q5_probe_acc": 0.5190,
                     "q6_probe_acc_raw_pixels": 0.10, "anomaly_auc_q1": 0.9348,
                     "anomaly_auc_q5": 0.9590, "silhouette_q1": 0.0884, "silhouette_q5": 0.1453},
        "stale": [],
        "provenance": provenance_entry(),
    }
    for e in REGISTRY:                 # each experiment's part: its example
        ctx.update(copy.deepcopy(e.example))
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
    ctx["probe"]["trained"] = {k: pr["q1"][k] for k in ("test_acc", "train_acc")}
    ctx["probe"]["random_init"] = {k: pr["random_init"][k] for k in ("test_acc", "train_acc")}
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
