"""Multi-seed evidence and the reference tolerances derived from it.

Reads the saved results of one profile run with several seeds (and, optionally,
a second run of the first seed), and writes two committed files:
- ``reference/<profile>.evidence.json``: per-seed metrics, mean and standard
  deviation, stage times, machine and versions, and whether the same-seed
  rerun was bit-identical;
- ``reference/<profile>.json``: per metric, the expected value (the mean) and
  the tolerance ``max(K_STD * std, floor of its kind)``.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import numpy as np

from .errors import VicregError
from .metrics import BY_NAME, across_seeds, read_metrics
from .results import atomic_write
from .stages import INDEX
from .verify import REFERENCE_DIR

MIN_SEEDS = 3
# A seed's distance from the mean of n seeds is at most (n - 1) / sqrt(n) standard
# deviations (1.15 for n = 3); four leave room for another machine's rounding and
# for an estimate of the spread made from a few seeds.
K_STD = 4.0
# Below these, a difference is within the printed precision or the noise of one
# test set: half a percentage point, 0.001 of AUC, 0.005 of a score, a quarter of a
# dimension of effective rank, 1% of a loss.
FLOORS = {"percent": 0.005, "auc": 0.001, "score": 0.005, "rank": 0.25}
LOSS_FLOOR_REL = 0.01


def tolerance(kind: str, mean: float, std: float) -> float:
    floor = LOSS_FLOOR_REL * abs(mean) if kind == "loss" else FLOORS[kind]
    return max(K_STD * std, floor)


# When, how long and the hash of the file as written (which covers the provenance), not
# what was computed.
UNTIMED = ("provenance", "timings", "content_sha256")
# What a run records beside its results: its stage times, the sha256 of every file.
RUN_RECORDS = ("timings.json", INDEX)


def _results_only(value):
    if isinstance(value, dict):
        return {k: _results_only(v) for k, v in value.items() if k not in UNTIMED}
    if isinstance(value, list):
        return [_results_only(v) for v in value]
    return value


def _json_data(path: Path):
    return _results_only(json.loads(path.read_text()))


def _same_file(a: Path, b: Path) -> bool:
    if a.suffix == ".json":
        return _json_data(a) == _json_data(b)
    if a.suffix == ".npz":
        with np.load(a) as x, np.load(b) as y:
            names = set(x.files) - {"stage_key"}
            return names == set(y.files) - {"stage_key"} and all(
                np.array_equal(x[k], y[k], equal_nan=True) for k in names)
    return a.read_bytes() == b.read_bytes()


def bit_identity(first: Path, rerun: Path) -> dict:
    """Whether every saved result of two runs of the same seed is identical."""
    names = sorted(p.name for p in Path(first).iterdir()
                   if p.suffix in (".json", ".npz") and p.name not in RUN_RECORDS)
    missing = [n for n in names if not (Path(rerun) / n).is_file()]
    if missing:
        raise VicregError(f"The rerun in {rerun} lacks {', '.join(missing[:5])}; run the "
                          "same seed there to completion first.")
    differing = [n for n in names if not _same_file(Path(first) / n, Path(rerun) / n)]
    return {"files_compared": len(names), "identical": not differing, "differing": differing}


def _machine(results_dir: Path) -> dict:
    prov = json.loads((results_dir / "probe.q1.json").read_text())["provenance"]
    return {"device": prov["device"], "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "python": prov["python"], "torch": prov["torch"],
            "torchvision": prov["torchvision"], "numpy": prov["numpy"],
            "libraries": prov["libraries"], "commit": prov["commit"],
            "created": prov["created"], "numerics": training_numerics(results_dir)}


def training_numerics(results_dir: Path) -> str:
    """How Q1 was trained in ``results_dir`` (bf16 or float32), from its provenance."""
    path = results_dir / "train.q1.json"
    if not path.is_file():
        return "unknown"
    doc = json.loads(path.read_text())
    return doc["data"]["provenance"].get("numerics", "float32")   # TrainResult holds its own


def _timings(results_dir: Path) -> dict:
    path = results_dir / "timings.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def collect(profile: str, seed_dirs: dict[int, Path], rerun: Path | None) -> dict:
    if len(seed_dirs) < MIN_SEEDS:
        raise VicregError(f"Tolerances need at least {MIN_SEEDS} seeds; got "
                          f"{len(seed_dirs)}. Run e.g. `--seed 0 1 2`.")
    per_seed = {s: read_metrics(d) for s, d in seed_dirs.items()}
    first = min(seed_dirs)
    return {
        "profile": profile, "seeds": sorted(seed_dirs),
        "machine": _machine(seed_dirs[first]),
        "metrics": across_seeds(per_seed),
        "timings_s": {str(s): _timings(d) for s, d in sorted(seed_dirs.items())},
        "same_seed_rerun": (bit_identity(seed_dirs[first], rerun) | {"seed": first})
        if rerun is not None else None,
    }


def reference_from(evidence: dict) -> dict:
    rule = (f"expected = mean over seeds {evidence['seeds']}; tolerance = max({K_STD:g} x "
            f"sample std, floor of the metric's kind {FLOORS} or {LOSS_FLOOR_REL:.0%} of a loss)")
    return {"profile": evidence["profile"], "rule": rule,
            "numerics": evidence.get("machine", {}).get("numerics", "unknown"),
            "evidence": f"{evidence['profile']}.evidence.json",
            "metrics": {name: {"expected": m["mean"],
                               "tolerance": tolerance(BY_NAME[name].kind, m["mean"], m["std"]),
                               "std": m["std"]}
                        for name, m in evidence["metrics"].items()}}


def write(evidence: dict, directory: Path = REFERENCE_DIR) -> tuple[Path, Path]:
    profile = evidence["profile"]
    ev_path, ref_path = directory / f"{profile}.evidence.json", directory / f"{profile}.json"
    atomic_write(ev_path, json.dumps(evidence, indent=1, allow_nan=False) + "\n")
    atomic_write(ref_path, json.dumps(reference_from(evidence), indent=1, allow_nan=False) + "\n")
    return ev_path, ref_path
