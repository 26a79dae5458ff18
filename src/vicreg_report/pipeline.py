"""The study as a chain of stages, each cached under build/ by its stage key.

prepare -> train (Q1, Q4) -> representations -> Q5 training -> experiments
-> figures -> document. Every stage prints whether it reused its saved result
or recomputed it, and why (see stages.py for what a key covers).
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import data as data_mod
from .config import Profile
from .errors import VicregError
from .model import build_model
from .paths import build_dir
from .progress import console
from .results import ProbeResult, ResultError, TrainResult, atomic_write, load_record, \
    load_result, make_provenance, save_result
from .stages import stage_key
from .training import load_checkpoint, select_device, train_vicreg

TRAINED = ("q1", "q4", "q5")
ENCODERS = (*TRAINED, "random_init")


@dataclass
class Run:
    """Options shared by every stage of one invocation, and what each stage did."""

    profile: Profile
    data: str | None = None
    download: bool = False
    device: str = "auto"
    force: frozenset = frozenset()    # stage names, or {"all"}
    show_progress: bool = True
    saved_only: bool = False          # never compute: use saved results, stale or not
    results: Path | None = None       # read and write results here, not under build/
    timings: dict = field(default_factory=dict)
    log: list = field(default_factory=list)   # (stage, "reused" | "recomputed" | "stale", why)

    @property
    def results_dir(self) -> Path:
        """``build/results/<profile>/seed-<seed>/`` unless ``results`` names a folder."""
        if self.results is not None:
            return Path(self.results)
        return build_dir() / "results" / self.profile.name / f"seed-{self.profile.seed}"

    @property
    def stale(self) -> list[tuple[str, str]]:
        """(stage, why) of every saved result used although its inputs changed."""
        return [(stage, why) for stage, status, why in self.log if status == "stale"]

    @property
    def report_dir(self) -> Path:
        return build_dir() / "report" / self.profile.name

    @property
    def torch_device(self) -> torch.device:
        return select_device(self.device)

    def forced(self, stage: str) -> bool:
        return "all" in self.force or stage.split(":")[0] in self.force

    def note(self, stage: str, status: str, why: str) -> None:
        self.log.append((stage, status, why))
        colour = {"reused": "green", "recomputed": "yellow"}.get(status, "red")
        console.print(f"[{colour}]{status:>10}[/] {stage}: {why}", highlight=False)


def profile_of(p: Profile, encoder: str) -> Profile:
    """Q4 is Q1 without the variance term; every other encoder shares Q1's configuration."""
    return p.replace(mu=0.0) if encoder == "q4" else p


def _cached(run: Run, stage: str, path: Path, key: str, load):
    """The saved result if its key matches; None (and the reason noted) otherwise."""
    if run.forced(stage):
        why = "forced"
    elif not path.is_file():
        why = "no saved result"
    else:
        try:
            saved, saved_key = load(path)
        except ResultError as exc:
            why = f"saved result unusable: {str(exc).split('. ')[0]}"
        else:
            if saved_key == key:
                run.note(stage, "reused", f"{path.name}, key {key[:8]} unchanged")
                return saved
            why = f"inputs changed (key {saved_key[:8] or '-'} -> {key[:8]})"
            if run.saved_only:
                run.note(stage, "stale", f"{why}; shown as saved, marked stale")
                _rekey(saved, key)   # so that every stage downstream reads as stale too
                return saved
    if run.saved_only:
        raise VicregError(
            f"Stage {stage} has no usable saved result in {run.results_dir} ({why}), and this "
            "run only renders saved results. Run the study on a machine that can compute it "
            "(for the full profile: a GPU, see scripts/full_gpu.sh), or drop --saved-only.")
    run.note(stage, "recomputed", why)
    return None


def _rekey(saved, key: str) -> None:
    """Give a stale result the key it would have now (results, records and Reps)."""
    target = saved[0] if isinstance(saved, tuple) else saved
    if hasattr(target, "provenance"):
        target.provenance.stage_key = key
    else:
        target.key = key


def _timed(run: Run, stage: str, started: float) -> None:
    run.timings[stage] = run.timings.get(stage, 0.0) + time.perf_counter() - started


# ---------------------------------------------------------------- data and training

def prepare(run: Run) -> data_mod.PreparedData:
    started = time.perf_counter()
    p = run.profile
    if p.synthetic_data:
        d = data_mod.synthetic(p.seed, p.train_images, p.test_images)
    else:
        target = Path(run.data or data_mod.default_locations()[-1]) if run.download else None
        d = data_mod.prepare(run.data, download_to=target)
    _timed(run, "prepare", started)
    return d


def train(run: Run, d, encoder: str = "q1", neighbours=None, upstream: str = "") -> TrainResult:
    """Train one encoder unless a checkpoint of the same stage key exists.

    ``neighbours``: for Q5, a function returning the neighbour table (called only
    when training actually runs).
    """
    p = profile_of(run.profile, encoder)
    stage = f"train:{encoder}"
    key = stage_key(stage, p.config_hash(), d.fingerprint, upstream)
    path = run.results_dir / f"train.{encoder}.json"

    def load(path):
        result = load_result(path, TrainResult)
        if not run.saved_only and not (run.results_dir / result.checkpoint).is_file():
            raise ResultError(f"its checkpoint {result.checkpoint} is missing")
        return result, result.provenance.stage_key

    result = _cached(run, stage, path, key, load)
    if result is None:
        started = time.perf_counter()
        epochs = p.q5_epochs if encoder == "q5" else p.epochs
        result, _ = train_vicreg(
            p, d, run.results_dir / f"{encoder}.pt", run.torch_device, encoder,
            run.show_progress, epochs=epochs,
            neighbours=None if neighbours is None else torch.from_numpy(neighbours()))
        result.provenance.stage_key = key
        save_result(result, path)
        _timed(run, f"train:{encoder}", started)
    return result


def load_encoder(run: Run, encoder: str, trained: dict[str, TrainResult]) -> torch.nn.Module:
    p = profile_of(run.profile, encoder)
    if encoder == "random_init":
        return build_model(p).to(run.torch_device).encoder  # the weights Q1 started from
    return load_checkpoint(p, run.results_dir / trained[encoder].checkpoint,
                           run.torch_device).encoder


# ---------------------------------------------------------------- representations

@dataclass
class Reps:
    """One encoder's representations of the profile's train and test images and MNIST."""

    train: np.ndarray
    test: np.ndarray
    mnist: np.ndarray
    key: str


def subsets(run: Run, d) -> tuple[np.ndarray, np.ndarray]:
    p = run.profile
    return data_mod.balanced_subset(d.train_y, p.train_images), \
        data_mod.balanced_subset(d.test_y, p.test_images)


def representations(run: Run, d, encoder: str, trained: dict[str, TrainResult]) -> Reps:
    from .anomaly import mnist_to_cifar_format
    from .representations import encode

    stage = f"representations:{encoder}"
    upstream = trained[encoder].provenance.stage_key if encoder in trained else ""
    key = stage_key(stage, run.profile.config_hash(), d.fingerprint, upstream)
    path = run.results_dir / f"reps.{encoder}.npz"
    reps = _cached(run, stage, path, key, _load_reps)
    if reps is None:
        started = time.perf_counter()
        net = load_encoder(run, encoder, trained)
        train_idx, test_idx = subsets(run, d)
        with console.status(f"encoding with {encoder}"):
            reps = Reps(encode(net, d.train_x[train_idx], run.torch_device),
                        encode(net, d.test_x[test_idx], run.torch_device),
                        encode(net, mnist_to_cifar_format(d.mnist_x), run.torch_device), key)
        save_arrays(path, {"train": reps.train, "test": reps.test, "mnist": reps.mnist}, key)
        _timed(run, "representations", started)
    return reps


def save_arrays(path: Path, arrays: dict[str, np.ndarray], key: str) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays, stage_key=np.asarray(key))
    atomic_write(path, buf.getvalue())


def load_arrays(path: Path) -> tuple[dict[str, np.ndarray], str]:
    try:
        with np.load(path) as z:
            return {k: z[k] for k in z.files if k != "stage_key"}, str(z["stage_key"])
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise ResultError(f"{path} is unreadable ({exc})") from None


def _load_reps(path: Path):
    arrays, key = load_arrays(path)
    return Reps(arrays["train"], arrays["test"], arrays["mnist"], key), key


# ---------------------------------------------------------------- experiments

def experiment(run: Run, d, stage: str, cls, inputs: list[str], compute, arrays: bool = False,
               settings: tuple[str, ...] | None = None):
    """Run ``compute() -> result [, arrays]`` unless a result of the same key is saved.

    ``settings``: the profile fields the stage reads, when it reads no trained
    encoder; then only those fields (not the whole configuration) enter its key.
    """
    config = run.profile.config_hash() if settings is None else \
        repr({name: getattr(run.profile, name) for name in settings})
    key = stage_key(stage, config, d.fingerprint, *inputs)
    name = stage.replace(":", ".")
    path = run.results_dir / f"{name}.json"
    array_path = run.results_dir / f"{name}.npz"

    def load(path):
        record = load_record(path, cls)
        extra = load_arrays(array_path)[0] if arrays else None
        return (record, extra), record.provenance.stage_key

    cached = _cached(run, stage, path, key, load)
    if cached is not None:
        return cached
    started = time.perf_counter()
    out = compute()
    result, extra = out if arrays else (out, None)
    prov = make_provenance(run.profile, d, run.torch_device, started, key)
    if arrays:
        save_arrays(array_path, extra, key)
    save_result(result, path, prov)
    _timed(run, stage.split(":")[0], started)
    return load_record(path, cls), extra


def probe(run: Run, d, encoder: str, reps: Reps) -> ProbeResult:
    from .probe import fit_linear_probe

    p = run.profile
    stage = f"probe:{encoder}"
    key = stage_key(stage, p.config_hash(), d.fingerprint, reps.key)
    path = run.results_dir / f"probe.{encoder}.json"
    cached = _cached(run, stage, path, key,
                     lambda path: (r := load_result(path, ProbeResult), r.provenance.stage_key))
    if cached is not None:
        return cached
    started = time.perf_counter()
    train_idx, test_idx = subsets(run, d)
    fit = fit_linear_probe(reps.train, d.train_y[train_idx], reps.test, d.test_y[test_idx],
                           p.probe_epochs, p.probe_lr, p.probe_batch_size, p.seed)
    settings = {"epochs": p.probe_epochs, "lr": p.probe_lr, "batch_size": p.probe_batch_size,
                "optimizer": "Adam", "standardized": True,
                "train_images": len(train_idx), "test_images": len(test_idx)}
    result = ProbeResult(encoder=encoder, settings=settings,
                         provenance=make_provenance(p, d, run.torch_device, started, key), **fit)
    save_result(result, path)
    _timed(run, "probe", started)
    return result


def q5_neighbours(run: Run, q1: Reps) -> np.ndarray:
    """Row i: the indices of train image i's nearest train images under Q1 (itself excluded)."""
    from .neighbours import knn

    _, idx = knn(q1.train, q1.train, run.profile.q5_neighbours, exclude_self=True)
    return idx.astype(np.int64)


def train_encoders(run: Run, d) -> tuple[dict[str, TrainResult], dict[str, Reps]]:
    """Q1 and Q4 from augmented pairs; Q5 from pairs of Q1 neighbours."""
    trained = {"q1": train(run, d, "q1"), "q4": train(run, d, "q4")}
    reps = {"q1": representations(run, d, "q1", trained)}
    trained["q5"] = train(run, d, "q5", neighbours=lambda: q5_neighbours(run, reps["q1"]),
                          upstream=reps["q1"].key)
    return trained, reps


@dataclass
class Study:
    """Everything the figures and the document read."""

    data: object
    trained: dict
    reps: dict
    probes: dict
    results: dict = field(default_factory=dict)   # stage -> Record
    arrays: dict = field(default_factory=dict)    # stage -> {name: array}


def run_study(run: Run) -> Study:
    """Every stage, reusing whatever is fresh."""
    from . import experiments

    d = prepare(run)
    trained, reps = train_encoders(run, d)
    reps.update({name: representations(run, d, name, trained) for name in ("q4", "q5",
                                                                           "random_init")})
    probes = {name: probe(run, d, name, reps[name]) for name in ENCODERS}
    study = Study(d, trained, reps, probes)
    experiments.run_all(run, study)
    return study


def for_seed(run: Run, seed: int) -> Run:
    """The same invocation for another seed (its own results folder, log and timings)."""
    if run.results is not None and seed != run.profile.seed:
        raise VicregError("--results names one run's folder; give one seed with it.")
    return Run(run.profile.replace(seed=seed), data=run.data, download=run.download,
               device=run.device, force=run.force, show_progress=run.show_progress,
               saved_only=run.saved_only, results=run.results)


def report(run: Run, seeds: list[int] | None = None) -> dict[str, Path]:
    """Every stage that is missing or stale (for each seed), then the figures and the
    document: text and figures from the first seed, the summary over all of them."""
    from .figures import study_figures
    from .metrics import across_seeds, read_metrics
    from .render import build_document
    from .report_context import build_context

    started = time.perf_counter()
    seeds = list(dict.fromkeys(seeds or [run.profile.seed]))
    runs = [run if s == run.profile.seed else for_seed(run, s) for s in seeds]
    run = runs[0]
    studies = []
    for r in runs:
        t = time.perf_counter()
        studies.append(run_study(r))
        r.timings["study"] = time.perf_counter() - t
    per_seed = {r.profile.seed: read_metrics(r.results_dir) for r in runs}
    t = time.perf_counter()
    figure_paths = study_figures(run, studies[0])
    _timed(run, "figures", t)
    t = time.perf_counter()
    context = build_context(run, studies[0], figure_paths, seeds=across_seeds(per_seed),
                            seed_ids=seeds,
                            stale=[(stage, why, r.profile.seed if len(runs) > 1 else None)
                                   for r in runs for stage, why in r.stale])
    outputs = build_document(context, run.report_dir)
    _timed(run, "render", t)
    run.timings["total"] = time.perf_counter() - started
    for r in runs if not run.saved_only else ():
        atomic_write(r.results_dir / "timings.json", json.dumps(r.timings, indent=1))
    return outputs


def require_outputs(outputs: dict[str, Path]) -> None:
    missing = [str(p) for p in outputs.values() if not p.is_file() or p.stat().st_size == 0]
    if missing:
        raise VicregError("Rendering left these outputs missing or empty: " + ", ".join(missing))
