"""The study in order: prepare -> train (Q1, Q4) -> representations -> Q5 training ->
probes and experiments -> figures -> document.

Every stage goes through the stage engine (stages.py) and prints whether it
reused its saved result or recomputed it, and why. Q1 and Q4 train side by side
in two processes on a CUDA GPU with cores to spare and on a CPU with two or more
cores (``trains_side_by_side``); the probes and
experiments, which read only saved representations, run side by side in worker
processes wherever there are cores for more than one.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import comparisons, experiments
from . import data as data_mod
from .config import ENCODERS, encoder_profile
from .errors import VicregError
from .model import build_model
from .progress import console
from .representations import Reps, RepresentationsResult, describe, encode
from .results import ResultError, TrainResult, atomic_write, load_record, load_result, \
    make_provenance, save_result, thread_count
from .stages import Run, available_cores, cached, check_origin, check_written, in_workers, \
    record_written, run_specs, save_arrays, stage_key
from .distributed import broadcast, is_writer, world
from .experiments.training import REPRESENTATION_MODULES, TRAIN_MODULES
from .training import load_checkpoint, resume_path, train_vicreg

__all__ = ["Run", "Study", "run_study", "report", "prepare", "train_encoders", "for_seed"]


# ---------------------------------------------------------------- data

def prepare(run: Run) -> data_mod.PreparedData:
    """The data of ``run`` (downloaded first with --download; afterwards ``run`` reads the
    downloaded copy, so that worker processes do not download again)."""
    started = time.perf_counter()
    p = run.profile
    if p.synthetic_data:
        d = data_mod.synthetic(p.seed, p.train_images, p.test_images)
    else:
        target = Path(run.data or data_mod.default_locations()[-1]) if run.download else None
        d = data_mod.prepare(run.data, download_to=target)
        if target is not None:
            run.data, run.download = str(target), False
    run.timed("prepare", time.perf_counter() - started)
    return d


# ---------------------------------------------------------------- training

def _train_stage(run: Run, d, encoder: str, upstream: str = "") -> tuple[str, str, Path]:
    """(stage name, key, result path) of training ``encoder``."""
    stage = f"train:{encoder}"
    key = stage_key(stage, encoder_profile(run.profile, encoder).config_hash(), d.fingerprint,
                    upstream, modules=TRAIN_MODULES)
    return stage, key, run.results_dir / f"train.{encoder}.json"


def _trained_loader(run: Run):
    def load(path):
        result = load_result(path, TrainResult)
        check_origin(result.provenance, run, path)
        check_written(path)
        checkpoint = run.results_dir / result.checkpoint
        if not run.saved_only:
            if not checkpoint.is_file():
                raise ResultError(f"its checkpoint {result.checkpoint} is missing")
            check_written(checkpoint)
        return result, result.provenance.stage_key
    return load


def _train_and_save(run: Run, d, encoder: str, key: str, neighbours=None) -> TrainResult:
    p = encoder_profile(run.profile, encoder)
    started = time.perf_counter()
    checkpoint = run.results_dir / f"{encoder}.pt"
    result, _ = train_vicreg(
        p, d, checkpoint, run.torch_device, encoder, run.show_progress,
        epochs=p.q5_epochs if encoder == "q5" else p.epochs,
        neighbours=None if neighbours is None else torch.from_numpy(neighbours()), key=key)
    result.provenance.stage_key = key
    if is_writer():
        save_result(result, run.results_dir / f"train.{encoder}.json")
        resume_path(checkpoint).unlink(missing_ok=True)   # the result is saved: nothing to resume
    run.timed(f"train:{encoder}", time.perf_counter() - started)
    return result


def _record_trained(run: Run, encoder: str) -> None:
    """Index the training result and its checkpoint (by the one process that writes)."""
    if is_writer():
        record_written(run.results_dir / f"train.{encoder}.json",
                       run.results_dir / f"{encoder}.pt")


def _train_in_worker(run: Run, encoder: str, key: str, threads: int | None,
                     shown: bool) -> dict:
    """In a worker process: train ``encoder`` (with ``threads`` torch threads if given)
    and save it, with a progress bar if ``shown``; the stage times it took."""
    if threads:
        torch.set_num_threads(threads)
    run = dataclasses.replace(run, show_progress=run.show_progress and shown)
    _train_and_save(run, prepare(run), encoder, key)
    return run.timings


def trains_side_by_side(run: Run) -> bool:
    """Whether Q1 and Q4 train at once, in two worker processes.

    On a CUDA GPU with cores for more than one worker. On a CPU with two or more cores,
    unless ``--workers 1`` or the profile says not to: on 2 cores, two one-thread
    trainings made 17% more steps a second together than one two-thread training
    (README, "What the study computes"). Never under torchrun, where each process
    already trains its share.
    """
    if world()[1] > 1:
        return False
    if run.torch_device.type == "cuda":
        return run.worker_count > 1
    return (run.profile.cpu_side_by_side and (run.workers is None or run.workers > 1)
            and available_cores() >= 2)


def worker_threads(run: Run) -> int | None:
    """Torch threads of each of the two trainings side by side: half the cores on a CPU
    (the thread count changes float rounding, so the numbers then depend on the number
    of cores, as one training's do on its threads); None, the default, on a GPU."""
    return None if run.torch_device.type == "cuda" else max(1, available_cores() // 2)


def train(run: Run, d, encoder: str = "q1", neighbours=None, upstream: str = "") -> TrainResult:
    """Train one encoder unless a result of the same stage key is saved.

    ``neighbours``: for Q5, a function returning the neighbour table (called only
    when training actually runs).
    """
    stage, key, path = _train_stage(run, d, encoder, upstream)
    result = cached(run, stage, path, key, _trained_loader(run))
    if result is None:
        result = _train_and_save(run, d, encoder, key, neighbours)
        _record_trained(run, encoder)
    return result


def train_encoders(run: Run, d) -> tuple[dict[str, TrainResult], dict[str, Reps]]:
    """Q1 and Q4 from augmented pairs (side by side where ``trains_side_by_side`` says
    so), then Q5 from pairs of Q1 neighbours."""
    trained, pending = {}, []
    for encoder in ("q1", "q4"):
        stage, key, path = _train_stage(run, d, encoder)
        saved = cached(run, stage, path, key, _trained_loader(run))
        if saved is None:
            pending.append((encoder, key))
        else:
            trained[encoder] = saved
    if len(pending) > 1 and trains_side_by_side(run):
        threads = worker_threads(run)
        # one live bar, the first training's: two processes drawing bars garble both
        first, others = pending[0][0], ", ".join(e for e, _ in pending[1:])
        console.print(f"train {first} and {others} side by side"
                      + (f", {thread_count(threads)} each" if threads else "")
                      + f"; the bar shows {first}")
        timings = in_workers(run, len(pending),
                             [(_train_in_worker, (run, e, k, threads, e == first))
                              for e, k in pending],
                             [f"train:{e}" for e, _ in pending], show=False)
        for (encoder, _), seconds in zip(pending, timings):
            run.timed(f"train:{encoder}", seconds[f"train:{encoder}"])
            trained[encoder] = load_result(run.results_dir / f"train.{encoder}.json",
                                           TrainResult)
    else:
        trained.update({e: _train_and_save(run, d, e, k) for e, k in pending})
    for encoder, _ in pending:
        _record_trained(run, encoder)
    if world()[1] > 1:          # several processes: the first one finds the neighbours
        return _train_q5_distributed(run, d, trained)
    reps = {"q1": representations(run, d, "q1", trained)}
    trained["q5"] = train(run, d, "q5", neighbours=lambda: q5_neighbours(run, reps["q1"]),
                          upstream=reps["q1"].key)
    return trained, reps


def _train_q5_distributed(run: Run, d, trained: dict):
    """Q5 under torchrun: the first process encodes with Q1 and finds the neighbour
    table; every process trains on it."""
    reps = {"q1": representations(run, d, "q1", trained)} if is_writer() else {}
    upstream = broadcast(reps["q1"].key if reps else None)
    table = broadcast(q5_neighbours(run, reps["q1"]) if reps else None)
    trained["q5"] = train(run, d, "q5", neighbours=lambda: table, upstream=upstream)
    return trained, reps


def load_encoder(run: Run, encoder: str, trained: dict[str, TrainResult]) -> torch.nn.Module:
    p = encoder_profile(run.profile, encoder)
    if encoder == "random_init":
        return build_model(p).to(run.torch_device).encoder  # the weights Q1 started from
    return load_checkpoint(p, run.results_dir / trained[encoder].checkpoint,
                           run.torch_device).encoder


def q5_neighbours(run: Run, q1: Reps) -> np.ndarray:
    """Row i: the indices of train image i's nearest train images under Q1 (itself excluded)."""
    from .neighbours import knn

    _, idx = knn(q1.train, q1.train, run.profile.q5_neighbours, exclude_self=True)
    return idx.astype(np.int64)


# ---------------------------------------------------------------- representations

def _reps_record(run: Run, encoder: str) -> Path:
    return run.results_dir / f"reps.{encoder}.json"


def _load_reps(run: Run, path: Path) -> tuple[Reps, str]:
    record = load_record(path, RepresentationsResult)
    check_origin(record.provenance, run, path)
    check_written(path)
    arrays = path.with_suffix(".npz")
    if not run.saved_only and not arrays.is_file():
        raise ResultError(f"its arrays {arrays.name} are missing")
    key = record.provenance.stage_key
    return Reps(key, arrays, record.result.arrays_sha256), key


def representations(run: Run, d, encoder: str, trained: dict[str, TrainResult]) -> Reps:
    from .anomaly import mnist_to_cifar_format

    stage = f"representations:{encoder}"
    upstream = trained[encoder].provenance.stage_key if encoder in trained else ""
    key = stage_key(stage, run.profile.config_hash(), d.fingerprint, upstream,
                    modules=REPRESENTATION_MODULES)
    path = _reps_record(run, encoder)
    reps = cached(run, stage, path, key, lambda path: _load_reps(run, path))
    if reps is None:
        started = time.perf_counter()
        net = load_encoder(run, encoder, trained)
        train_idx, test_idx = data_mod.study_subsets(run.profile, d)
        with console.status(f"encoding with {encoder}"):
            arrays = {split: encode(net, images, run.torch_device,
                                    cpu_bf16=run.profile.cpu_bf16, size=run.profile.encode_size)
                      for split, images in (("train", d.train_x[train_idx]),
                                            ("test", d.test_x[test_idx]),
                                            ("mnist", mnist_to_cifar_format(d.mnist_x)))}
        written = save_arrays(path.with_suffix(".npz"), arrays, key)
        record = describe(encoder, arrays, path.with_suffix(".npz").name, written)
        save_result(record, path, make_provenance(run.profile, d, run.torch_device, started, key))
        record_written(path)
        reps = Reps(key, path.with_suffix(".npz"), record.arrays_sha256, arrays)
        run.timed("representations", time.perf_counter() - started)
    return reps


# ---------------------------------------------------------------- the study

@dataclass
class Study:
    """Everything the figures and the document read."""

    data: object
    trained: dict
    reps: dict
    probes: dict = field(default_factory=dict)    # encoder -> Record of its ProbeResult
    results: dict = field(default_factory=dict)   # stage -> Record
    arrays: dict = field(default_factory=dict)    # stage -> {name: array}


def run_study(run: Run) -> Study:
    """Every stage, reusing whatever is fresh."""
    d = prepare(run)
    trained, reps = train_encoders(run, d)
    reps.update({name: representations(run, d, name, trained) for name in ("q4", "q5",
                                                                           "random_init")})
    study = Study(d, trained, reps)
    done = run_specs(run, d, experiments.specs(run, study), rebuild=worker_specs)
    for name, (record, arrays) in done.items():
        kind, _, encoder = name.partition(":")
        if kind == "probe":
            study.probes[encoder] = record
        else:
            study.results[name] = record
        study.arrays[name] = arrays
    (study.results["comparisons"], _), = run_specs(
        run, d, [comparisons.spec(run, study)]).values()
    return study


def worker_specs(run: Run):
    """In a worker process: the data and the probe and experiment stages of ``run``,
    reading the representations the study saved."""
    d = prepare(run)
    reps = {e: _load_reps(run, _reps_record(run, e))[0] for e in ENCODERS}
    return d, {spec.name: spec for spec in experiments.specs(run, Study(d, {}, reps))}


def seed_devices(seeds: int, gpus: int) -> list[str | None]:
    """The GPU each of ``seeds`` studies runs on side by side, in turn over the GPUs;
    None for each where there are fewer than two GPUs (one after another)."""
    return [f"cuda:{i % gpus}" if gpus > 1 else None for i in range(seeds)]


def run_seeds(runs: list[Run]) -> list[Study]:
    """The study of each seed (``runs``: one Run per seed). On a machine with several
    GPUs the seeds run side by side, one GPU and a share of the cores each; their
    results are then read back here."""
    first = runs[0]
    gpus = torch.cuda.device_count() if first.torch_device.type == "cuda" else 0
    devices = seed_devices(len(runs), gpus)
    if len(runs) > 1 and devices[0] is not None:
        slots = min(gpus, len(runs))
        calls = [(_study_in_worker, (r, device, max(1, r.worker_count // slots)))
                 for r, device in zip(runs, devices)]
        for r, timings in zip(runs, in_workers(first, slots, calls,
                                                [f"seed {r.profile.seed}" for r in runs])):
            r.timings.update(timings)
    studies = []
    for r in runs:
        started = time.perf_counter()
        studies.append(run_study(r))
        r.timings.setdefault("study", time.perf_counter() - started)
    return studies


def _study_in_worker(run: Run, device: str, workers: int) -> dict:
    """In a worker process: one seed's study on its own GPU; the stage times."""
    run = dataclasses.replace(run, device=device, workers=workers, timings={}, log=[])
    started = time.perf_counter()
    run_study(run)
    run.timings["study"] = time.perf_counter() - started
    return run.timings


def for_seed(run: Run, seed: int) -> Run:
    """The same invocation for another seed (its own results folder, log and timings)."""
    if run.results is not None and seed != run.profile.seed:
        raise VicregError("--results names one run's folder; give one seed with it.")
    return dataclasses.replace(run, profile=run.profile.replace(seed=seed), timings={}, log=[])


def report(run: Run, seeds: list[int] | None = None) -> dict[str, Path]:
    """Every stage that is missing or stale (for each seed), then the figures and the
    document: text and figures from the first seed, the summary over all of them."""
    from .metrics import across_seeds, read_metrics
    from .render import build_document
    from .report_context import build_context

    started = time.perf_counter()
    seeds = list(dict.fromkeys(seeds or [run.profile.seed]))
    runs = [run if s == run.profile.seed else for_seed(run, s) for s in seeds]
    run = runs[0]
    studies = run_seeds(runs)
    per_seed = {r.profile.seed: read_metrics(r.results_dir) for r in runs}
    t = time.perf_counter()
    figure_paths = experiments.draw_figures(run, studies[0])
    run.timed("figures", time.perf_counter() - t)
    t = time.perf_counter()
    context = build_context(run, studies[0], figure_paths, seeds=across_seeds(per_seed),
                            seed_ids=seeds,
                            seed_comparisons=[s.results["comparisons"].result.comparisons
                                              for s in studies],
                            stale=[(stage, why, r.profile.seed if len(runs) > 1 else None)
                                   for r in runs for stage, why in r.stale])
    outputs = build_document(context, run.report_dir)
    run.timed("render", time.perf_counter() - t)
    run.timings["total"] = time.perf_counter() - started
    for r in runs:
        save_timings(r)
    return outputs


def save_timings(run: Run) -> None:
    """The seconds each kind of stage took in this invocation, as ``timings.json`` in the
    results folder (not for --saved-only, which computes nothing)."""
    if not run.saved_only:
        atomic_write(run.results_dir / "timings.json", json.dumps(run.timings, indent=1))


def require_outputs(outputs: dict[str, Path]) -> None:
    missing = [str(p) for p in outputs.values() if not p.is_file() or p.stat().st_size == 0]
    if missing:
        raise VicregError("Rendering left these outputs missing or empty: " + ", ".join(missing))
