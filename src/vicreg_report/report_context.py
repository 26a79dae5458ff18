"""Results -> the one context dict that the report template reads, in every language.

Every number here is read from a result object of this run (or from
original.json for the original write-up); the templates only format them.  Each
experiment builds its own part (experiments/, ``Experiment.build``); this module
adds the parts of the document around them: the setup, the seeds, stale
results, the comparisons and claims, the summary and the provenance.  The shape
of the context is described beside this module, in context_schema.py; the words
(the title included) are in the catalogues, templates/lang/<lang>.toml.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone

from .claims import evaluate_claims
from .comparisons import comparison_kind
from .config import FULL
from .context_schema import METRIC_PATHS, SECTIONS
from .experiments import REGISTRY
from .original import original
from .results import git_commit
from .uncertainty import LEVEL, RESAMPLES, SLOW_RESAMPLES, across_seeds

# Provenance fields listed in the appendix: once if every result has the same value,
# as a column otherwise.
PROVENANCE_FIELDS = ("commit", "profile", "seed", "config_hash", "data_source",
                     "data_fingerprint", "device", "numerics", "python", "torch",
                     "torchvision", "numpy", "libraries")
_STALE_WHY = re.compile(r"inputs changed \(key (?P<old>[0-9a-f]+|-) -> (?P<new>[0-9a-f]+)\)")


def build_context(run, study, figures: dict, seeds: dict | None = None,
                  stale: list | None = None, seed_ids: list[int] | None = None,
                  seed_comparisons: list[dict] | None = None) -> dict:
    """``figures``: (section, context key) -> path of each figure (experiments.draw_figures);
    ``seeds``: metrics.across_seeds over the seeds shown (None: this run's one seed);
    ``stale``: (stage, why) of saved results used although their inputs changed;
    ``seed_ids``: the seeds shown, the first one first (None: this run's seed);
    ``seed_comparisons``: each seed's comparisons (name -> Comparison), the first seed's
    first (None: this run's)."""
    ctx = {"meta": _meta(run), "setup": _setup(run, study)}
    for e in REGISTRY:
        ctx.update(e.build(run, study))
        ctx[e.section].update({key: os.path.relpath(figures[(e.section, key)], run.report_dir)
                               for key in e.figures})
    ctx["original"] = original()["reported"]
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
    """Section -> the stale stages ({"stage", "seed"}) whose results it shows (each
    experiment's ``shows``; the claims show the comparisons)."""
    shows = {e.section: e.shows_stage for e in REGISTRY}
    shows["claims"] = lambda stage: stage.partition(":")[0] == "comparisons"
    out: dict[str, list[dict]] = {}
    for section in SECTIONS:
        out[section] = []
        for item in stale:
            shown = {"stage": item["stage"], "seed": item["seed"]}
            if shows[section](item["stage"]) and shown not in out[section]:
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
            "name": p.name, "arch": p.arch, "width": p.width, "view_size": p.view_size,
            "views_resized": p.view_size != FULL.view_size, "encode_size": p.encode_size,
            "inputs_resized": p.encode_size != FULL.encode_size,
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


def summary_rows(ctx: dict, verdicts: dict[str, dict]) -> list[dict]:
    """One row per headline number (each experiment's ``summary``): this run, the
    untrained control, the original write-up, and ``versus``: the verdict of this run
    against the control (``verdicts``: over the seeds where there are several; None
    where there is no control)."""
    seeds = ctx["seeds"]

    def row(key, kind, this, control, orig, this_metric, control_metric=None, versus=None):
        """this_seeds, control_seeds: the metric over the document's seeds (None: none)."""
        return {"key": key, "kind": kind, "this": this, "control": control, "original": orig,
                "this_seeds": seeds[this_metric],
                "control_seeds": seeds[control_metric] if control_metric else None,
                "versus": verdicts[versus]["word"] if versus else None}

    return [r for e in REGISTRY if e.summary is not None for r in e.summary(ctx, row)]
