"""Results -> the one context dict that the report template reads, in every language.

Every number here is read from a result object of this run (or from
original.json for the original write-up); the templates only format them.  The
shape of the context is described beside this module, in context_schema.py; the
words (the title included) are in the catalogues, templates/lang/<lang>.toml.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone

import numpy as np

from .claims import evaluate_claims
from .comparisons import comparison_kind
from .config import ANIMALS, VEHICLES
from .context_schema import METRIC_PATHS, SECTIONS
from .losses import TERM_NAMES
from .original import original
from .results import git_commit
from .uncertainty import LEVEL, RESAMPLES, SLOW_RESAMPLES, across_seeds

# Which sections show the results of a kind of stage.
STAGE_SECTIONS: dict[str, tuple[str, ...]] = {
    "train": ("training", "probe"), "representations": ("training", "probe"),
    "probe": ("training", "probe"), "embedding2d": ("q2", "q4"), "laplacian": ("q6",),
    "retrieval": ("q7",), "anomaly": ("anomaly",), "clustering": ("clustering",),
    "comparisons": ("claims",),
}
# Provenance fields listed in the appendix: once if every result has the same value,
# as a column otherwise.
PROVENANCE_FIELDS = ("commit", "profile", "seed", "config_hash", "data_source",
                     "data_fingerprint", "device", "numerics", "python", "torch",
                     "torchvision", "numpy", "libraries")
_STALE_WHY = re.compile(r"inputs changed \(key (?P<old>[0-9a-f]+|-) -> (?P<new>[0-9a-f]+)\)")


def _terms(history: dict[str, list[float]], index: int) -> dict[str, float]:
    return {k: history[k][index] for k in TERM_NAMES}


def _group_mean(values: list[float], classes: list[str], group: tuple[str, ...]) -> float:
    return float(np.mean([v for v, c in zip(values, classes) if c in group]))


def build_context(run, study, figures: dict, seeds: dict | None = None,
                  stale: list | None = None, seed_ids: list[int] | None = None,
                  seed_comparisons: list[dict] | None = None) -> dict:
    """``seeds``: metrics.across_seeds over the seeds shown (None: this run's one seed);
    ``stale``: (stage, why) of saved results used although their inputs changed;
    ``seed_ids``: the seeds shown, the first one first (None: this run's seed);
    ``seed_comparisons``: each seed's comparisons (name -> Comparison), the first seed's
    first (None: this run's)."""
    rel = lambda name: os.path.relpath(figures[name], run.report_dir)  # noqa: E731
    res = {stage: record.result for stage, record in study.results.items()}
    ctx = {
        "meta": _meta(run),
        "setup": _setup(run, study),
        "training": _training(run, study, rel),
        "probe": _probe(study),
        "probes": _probes(study),
        "q2": _maps(res, rel),
        "q4": _collapse(study, res, rel),
        "q5": _q5(run, study),
        "q6": _laplacian(run, res, rel),
        "q7": _retrieval(res, rel),
        "anomaly": _anomaly(res, rel, run.profile),
        "clustering": _clustering(res, rel),
        "original": original()["reported"],
    }
    ctx["seeds"] = dict(seeds) if seeds else single_seed(ctx)
    ids = list(seed_ids) if seed_ids else [run.profile.seed]
    ctx["setup"]["seeds"] = seed_summary(ctx["seeds"], run.profile.seed, ids)
    ctx["stale"] = stale_entries(stale or [])
    ctx["stale_sections"] = stale_sections(ctx["stale"])
    ctx["provenance"] = provenance_table(run, study, ids)
    first = study.results["comparisons"].result.comparisons
    ctx["verdicts"] = comparison_entries(first)
    basis = comparison_entries(decided_over_seeds(seed_comparisons or [first]))
    ctx["uncertainty"] = {"level": LEVEL, "resamples": RESAMPLES,
                          "slow_resamples": SLOW_RESAMPLES,
                          "claims_over_seeds": len(seed_comparisons or [first]) > 1}
    ctx["claims"] = [claim_entry(c) for c in evaluate_claims(basis)]
    ctx["summary"] = summary_rows(ctx, basis)
    return ctx


# ---------------------------------------------------------------- comparisons

def decided_over_seeds(per_seed: list[dict]) -> dict:
    """Each comparison over the seeds (a t-interval of the per-seed differences), or the
    one seed's own (bootstrap) comparisons."""
    if len(per_seed) == 1:
        return per_seed[0]
    return {name: across_seeds([s[name].a for s in per_seed], [s[name].b for s in per_seed])
            for name in per_seed[0]}


def comparison_entries(comparisons: dict) -> dict[str, dict]:
    """Name -> the comparison's fields, its ``kind`` (how its numbers are written) and
    ``word``: its verdict as the document's variants name it (undecided: "equal")."""
    return {name: {**vars(c), "kind": comparison_kind(name),
                   "word": "equal" if c.verdict == "undecided" else c.verdict}
            for name, c in comparisons.items()}


def claim_entry(claim) -> dict:
    return {"id": claim.id, "verdict": claim.verdict, "values": dict(claim.values),
            "deciding": [{"name": n, **c} for n, c in claim.deciding.items()],
            "evidence": [{"name": n, **c} for n, c in claim.evidence.items()]}


# ---------------------------------------------------------------- seeds

def metric_value(ctx: dict, name: str):
    """The context's (first seed's) value of the metric ``name`` (see METRIC_PATHS)."""
    value = ctx
    for part in METRIC_PATHS[name]:
        value = value[part]
    return value


def single_seed(ctx: dict) -> dict:
    """``ctx["seeds"]`` for a document of one seed: every metric of METRIC_PATHS as
    metrics.across_seeds writes it, from the context's own values."""
    out = {}
    for name in METRIC_PATHS:
        v = float(metric_value(ctx, name))
        out[name] = {"mean": v, "std": 0.0, "n": 1, "values": [v]}
    return out


def seed_summary(seeds: dict, first: int, ids: list[int] | None) -> dict:
    """How many seeds the document covers, the first (text and figures), and all of them
    (None where they could not be told)."""
    n = max((s["n"] for s in seeds.values()), default=1)
    return {"n": n, "first": first, "several": n > 1, "ids": ids}


def stale_entries(stale) -> list[dict]:
    """(stage, why) or (stage, why, seed) tuples, or dicts with those keys, as the
    document lists them: each once, with the old and new key read from the reason
    where it names them; seed is None where the document covers one seed."""
    out = []
    for item in stale:
        if isinstance(item, dict):
            stage, why, seed = item["stage"], item["why"], item.get("seed")
        else:
            stage, why, seed = (*item, None)[:3]
        m = _STALE_WHY.search(why)
        entry = {"stage": stage, "seed": seed, "why": why,
                 "reason": "inputs_changed" if m else "other",
                 "old_key": m["old"] if m else None, "new_key": m["new"] if m else None}
        if entry not in out:
            out.append(entry)
    return out


def stale_sections(stale: list[dict]) -> dict[str, list[dict]]:
    """Section -> the stale stages ({"stage", "seed"}) whose results it shows
    (STAGE_SECTIONS; the Q4 and Q5 sections also take the training, representations
    and probe of their encoder)."""
    out: dict[str, list[dict]] = {s: [] for s in SECTIONS}
    for item in stale:
        kind, _, encoder = item["stage"].partition(":")
        targets = list(STAGE_SECTIONS.get(kind, ()))
        if kind in ("train", "representations", "probe") and encoder in ("q4", "q5"):
            targets.append(encoder)
        shown = {"stage": item["stage"], "seed": item["seed"]}
        for section in targets:
            if shown not in out[section]:
                out[section].append(shown)
    return out


# ---------------------------------------------------------------- provenance

def _provenance_value(field: str, value):
    if field == "data_fingerprint":
        return value[:16]
    if field == "libraries":
        return ", ".join(f"{name} {version}" for name, version in value.items())
    return value


def provenance_table(run, study, seed_ids: list[int] | None) -> dict:
    """Every result's provenance for the appendix.

    ``common``: each field of PROVENANCE_FIELDS once, with the value most results have;
    ``varying``: the fields in which some result differs; ``rows``: one per result (each
    trained encoder, each probe, each experiment record) with its stage, wall time, the
    start of its stage key and, for each varying field, its own value where it differs
    from ``common`` (None where it does not); the command that reruns the study."""
    records = ([(f"train:{e}", t.provenance) for e, t in study.trained.items()]
               + [(f"probe:{e}", r.provenance) for e, r in study.probes.items()]
               + [(stage, r.provenance) for stage, r in study.results.items()])
    common, varying = {}, []
    for field in PROVENANCE_FIELDS:
        values = [_provenance_value(field, getattr(p, field)) for _, p in records]
        counts = {}
        for v in values:
            counts[v] = counts.get(v, 0) + 1
        common[field] = max(counts, key=counts.get)   # ties: the first seen
        if len(counts) > 1:
            varying.append(field)
    rows = []
    for stage, p in records:
        row = {"stage": stage, "wall_time_s": p.wall_time_s, "stage_key": p.stage_key[:8]}
        for f in varying:
            value = _provenance_value(f, getattr(p, f))
            row[f] = None if value == common[f] else value
        rows.append(row)
    p = run.profile
    ids = seed_ids or [p.seed]
    return {"common": common, "varying": varying, "rows": rows,
            "total_s": sum(r["wall_time_s"] for r in rows),
            "seeds": ids, "seeds_known": seed_ids is not None,
            "command": f"nox -s report -- --profile {p.name} --seed "
                       + " ".join(str(s) for s in ids)}


def _meta(run) -> dict:
    return {"generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "commit": git_commit(), "profile": run.profile.name}


def _setup(run, study) -> dict:
    p, d = run.profile, study.data
    trained = study.trained["q1"]
    prov = trained.provenance
    wall = {"train_s": sum(t.provenance.wall_time_s for t in study.trained.values()),
            "probe_s": sum(r.provenance.wall_time_s for r in study.probes.values()),
            "experiments_s": sum(r.provenance.wall_time_s for r in study.results.values())}
    # the computation behind the shown results, not this (possibly cached) invocation
    wall["total_s"] = sum(wall.values())
    return {
        "data_source": d.source, "data_fingerprint": d.fingerprint[:16],
        "data_verified": d.verified,
        "profile": {
            "name": p.name, "arch": p.arch, "width": p.width,
            "train_images": trained.train_images,
            "test_images": study.probes["q1"].result.settings["test_images"],
            "epochs": p.epochs, "batch_size": p.batch_size, "lr": p.lr,
            "weight_decay": p.weight_decay, "lam": p.lam, "mu": p.mu, "nu": p.nu,
            "gamma": p.gamma, "eps": p.eps, "seed": p.seed, "config_hash": p.config_hash(),
        },
        "device": prov.device, "python": prov.python, "torch": prov.torch,
        "torchvision": prov.torchvision,
        "wall_time": wall,
    }


def _training(run, study, rel) -> dict:
    h = study.trained["q1"].history
    return {"figure": rel("training_curves"), "steps": len(h.train["total"]),
            "epochs": len(h.test["total"]), "steps_per_epoch": h.steps_per_epoch,
            "test_batches": len(h.test_batches["total"][0]),
            "batch_size": run.profile.batch_size,
            "first": _terms(h.train_epochs, 0), "last": _terms(h.train_epochs, -1),
            "test_first": _terms(h.test, 0), "test_last": _terms(h.test, -1)}


def _probe(study) -> dict:
    ref = original()
    q1, rnd = study.probes["q1"].result, study.probes["random_init"].result
    return {"trained": {"test_acc": q1.test_acc, "train_acc": q1.train_acc,
                        "standardized": q1.standardized_test_acc},
            "random_init": {"test_acc": rnd.test_acc, "train_acc": rnd.train_acc,
                            "standardized": rnd.standardized_test_acc},
            "original": {"test_acc": ref["reported"]["q3_probe_acc"]},
            "course_threshold": ref["course_threshold_probe_acc"],
            "settings": {k: q1.settings[k] for k in
                         ("epochs", "lr", "batch_size", "train_images", "test_images")}}


def _probes(study) -> dict:
    classes = study.data.classes
    out = {"classes": list(classes),
           "groups": {"vehicles": [c for c in classes if c in VEHICLES],
                      "animals": [c for c in classes if c in ANIMALS]},
           "group_of": {c: "vehicles" if c in VEHICLES else "animals"
                        for c in classes if c in VEHICLES or c in ANIMALS}}
    for enc, record in study.probes.items():
        r = record.result
        out[enc] = {"test_acc": r.test_acc, "train_acc": r.train_acc,
                    "standardized": r.standardized_test_acc, "feature_std": r.feature_std,
                    "per_class": list(r.per_class_test_acc),
                    "vehicles": _group_mean(r.per_class_test_acc, classes, VEHICLES),
                    "animals": _group_mean(r.per_class_test_acc, classes, ANIMALS)}
    return out


def _map_values(e) -> dict:
    return {"pca_knn": e.pca_knn_accuracy, "tsne_knn": e.tsne_knn_accuracy,
            "pca_silhouette": e.pca_silhouette, "tsne_silhouette": e.tsne_silhouette,
            "pca_ratio": e.pca_explained_ratio[:2],
            "tsne_vehicles": e.tsne_group_knn_recall["vehicles"],
            "tsne_animals": e.tsne_group_knn_recall["animals"],
            "pca_vehicles": e.pca_group_knn_recall["vehicles"],
            "pca_animals": e.pca_group_knn_recall["animals"],
            "effective_rank": e.effective_rank, "top1": e.variance_top1,
            "top2": e.variance_top2, "top10": e.variance_top10, "dimensions": e.dimensions}


def _maps(res, rel) -> dict:
    q1 = res["embedding2d:q1"]
    return {"figure": rel("q2_maps"), "points": q1.n_points, "knn_k": q1.knn_k,
            "knn_folds": q1.knn_folds, "tsne_method": q1.tsne_method,
            "perplexity": q1.tsne_settings["perplexity"],
            **{enc: _map_values(res[f"embedding2d:{enc}"])
               for enc in ("q1", "q4", "q5", "random_init")}}


def _collapse(study, res, rel) -> dict:
    h = study.trained["q4"].history
    return {"figure_maps": rel("q4_maps"), "figure_spectra": rel("spectra"),
            "figure_curves": rel("q4_curves"),
            "probe": study.probes["q4"].result.test_acc,
            "last": _terms(h.train_epochs, -1), "test_last": _terms(h.test, -1)}


def _q5(run, study) -> dict:
    p = run.profile
    return {"epochs": p.q5_epochs, "neighbours": p.q5_neighbours,
            "steps": len(study.trained["q5"].history.train["total"]),
            "probe": study.probes["q5"].result.test_acc,
            "other_runs": original()["other_runs"]["q5_probe_acc_1_epoch"]}


def _split_probes(r) -> dict:
    return {"test_acc": r.probe.test_acc, "train_acc": r.probe.train_acc,
            "val_acc": r.probe.val_acc, "standardized": r.standardized_probe.test_acc}


def _laplacian(run, res, rel) -> dict:
    raw = res["laplacian:raw_pixels"]
    return {
        "figure": rel("q6_maps"), "figure_sweep": rel("q6_sweep"), "images": raw.n_images,
        "neighbors": raw.n_neighbors, "tried": raw.components_tried,
        "fit_size": raw.split_sizes["fit"], "val_size": raw.split_sizes["val"],
        "test_size": raw.split_sizes["test"], "chance": 1.0 / len(raw.test_class_counts),
        **{v: {**_split_probes(res[f"laplacian:{v}"]),
               "components": res[f"laplacian:{v}"].n_components,
               "standardized_components": res[f"laplacian:{v}"].standardized_components,
               "graph_components": res[f"laplacian:{v}"].graph_components,
               "feature_dim": res[f"laplacian:{v}"].feature_dim}
           for v in ("raw_pixels", "random_cnn")},
        "q1": _split_probes(res["laplacian:q1"]),
        "random_init": _split_probes(res["laplacian:random_init"]),
    }


def _retrieval(res, rel) -> dict:
    out = {"figure_q1": rel("retrieval_q1"), "figure_q5": rel("retrieval_q5")}
    for enc in ("q1", "q5"):
        s = res[f"retrieval:{enc}"]
        out[enc] = {"same_class": s.mixing.same_class_fraction,
                    "animal_other_animal": s.mixing.animal_other_animal_fraction,
                    "animal_vehicle": s.mixing.animal_vehicle_fraction,
                    "farthest_grey": s.colour.farthest_grey_fraction,
                    "farthest_saturation": s.colour.farthest_mean_saturation,
                    "farthest_distinct": s.colour.farthest_distinct,
                    "k": len(s.retrieval.nearest[0]), "mixing_k": s.mixing.neighbours_per_query}
    colour = res["retrieval:q1"].colour
    out["dataset_grey"] = colour.dataset_grey_fraction
    out["dataset_saturation"] = colour.dataset_mean_saturation
    out["grey_threshold"] = colour.grey_threshold
    return out


def _anomaly(res, rel, p) -> dict:
    out = {"figure_roc": rel("roc"), "figure_top": rel("top_anomalies"), "k": p.anomaly_k,
           "top": p.anomaly_top}
    for enc in ("q1", "q5", "random_init"):
        a = res[f"anomaly:{enc}"]
        out["wide_top"] = a.wide_top
        digits = sorted(a.top_label_counts.items(), key=lambda kv: (-kv[1], kv[0]))
        wide = sorted(a.wide_top_label_counts.items(), key=lambda kv: (-kv[1], kv[0]))
        out[enc] = {"auc": a.auc, "top_normal": a.top_normal_count,
                    "top_anomalies": a.top - a.top_normal_count,
                    "top_digits": [{"digit": k, "count": v} for k, v in digits if v],
                    "wide_normal": a.wide_top_normal_count,
                    "wide_digits": [{"digit": k, "count": v} for k, v in wide if v],
                    "wide_digit_counts": dict(a.wide_top_label_counts),
                    "leading_digit": wide[0][0], "leading_count": wide[0][1]}
    return out


def _clustering(res, rel) -> dict:
    out = {"figure": rel("clusters")}
    for enc in ("q1", "q5", "random_init"):
        c = res[f"clustering:{enc}"]
        out[enc] = {"silhouette": c.silhouette, "ari": c.adjusted_rand_index,
                    "nmi": c.normalized_mutual_info, "sample": c.silhouette_sample_size,
                    "dimensions": c.dimensions}
        out["clusters"] = c.n_clusters
    return out


def summary_rows(ctx: dict, verdicts: dict[str, dict]) -> list[dict]:
    """One row per headline number: this run, the untrained control, the original write-up,
    and ``versus``: the verdict of this run against the control (``verdicts``: over the
    seeds where there are several; None where there is no control)."""
    o, pr, an, cl, q6 = ctx["original"], ctx["probes"], ctx["anomaly"], ctx["clustering"], ctx["q6"]
    seeds = ctx["seeds"]

    def row(key, kind, this, control, orig, this_metric, control_metric=None, versus=None):
        """this_seeds, control_seeds: the metric over the document's seeds (None: none)."""
        return {"key": key, "kind": kind, "this": this, "control": control, "original": orig,
                "this_seeds": seeds[this_metric],
                "control_seeds": seeds[control_metric] if control_metric else None,
                "versus": verdicts[versus]["word"] if versus else None}

    return [
        row("q3_probe", "percent", pr["q1"]["test_acc"], pr["random_init"]["test_acc"],
            o["q3_probe_acc"], "probe_q1", "probe_random_init", "probe_q1_vs_random_init"),
        row("q4_probe", "percent", pr["q4"]["test_acc"], pr["random_init"]["test_acc"],
            o["q4_probe_acc"], "probe_q4", "probe_random_init", "probe_q4_vs_random_init"),
        row("q5_probe", "percent", pr["q5"]["test_acc"], pr["random_init"]["test_acc"],
            o["q5_probe_acc"], "probe_q5", "probe_random_init", "probe_q5_vs_random_init"),
        row("q6_probe_raw", "percent", q6["raw_pixels"]["test_acc"], None,
            o["q6_probe_acc_raw_pixels"], "q6_raw_pixels"),
        row("q6_probe_cnn", "percent", q6["random_cnn"]["test_acc"], None, None,
            "q6_random_cnn"),
        row("auc_q1", "auc", an["q1"]["auc"], an["random_init"]["auc"], o["anomaly_auc_q1"],
            "auc_q1", "auc_random_init", "auc_q1_vs_random_init"),
        row("auc_q5", "auc", an["q5"]["auc"], an["random_init"]["auc"], o["anomaly_auc_q5"],
            "auc_q5", "auc_random_init", "auc_q5_vs_random_init"),
        row("silhouette_q1", "score", cl["q1"]["silhouette"], cl["random_init"]["silhouette"],
            o["silhouette_q1"], "silhouette_q1", "silhouette_random_init",
            "silhouette_q1_vs_random_init"),
        row("silhouette_q5", "score", cl["q5"]["silhouette"], cl["random_init"]["silhouette"],
            o["silhouette_q5"], "silhouette_q5", "silhouette_random_init",
            "silhouette_q5_vs_random_init"),
    ]
