"""The stage engine: each result is computed once, saved with its key, reused while the key holds.

A stage's key hashes its name, the configuration it reads, the data
fingerprint, the keys of the stages it reads and the source of the code it
runs (the project modules its experiment names, and the function that declares
it: see experiments/). A different key means the saved result is stale. Library versions are
not part of the key: they are recorded in every result's provenance, so that a
result computed elsewhere (torch 2.11 on a GPU machine, say) is the same result
here as long as code, configuration and data are the same.

Stages that read only saved inputs (``Spec``) can run side by side in worker
processes. Every such stage runs with ``STAGE_THREADS`` threads, in a worker
or not, so its numbers depend neither on the machine's core count nor on how
many stages run at once.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import multiprocessing
import os
import shutil
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .config import Profile
from .errors import VicregError
from .paths import build_dir
from .progress import console, progress_bar
from .results import Record, ResultError, atomic_write, load_record, make_provenance, \
    save_result

PACKAGE_DIR = Path(__file__).parent
# Threads of one stage. Fixed, because BLAS, OpenMP and openTSNE's FFT give results
# that depend on the thread count; parallelism comes from stages side by side.
STAGE_THREADS = 2



# ---------------------------------------------------------------- keys

@lru_cache(maxsize=None)
def module_hash(name: str) -> str:
    """The sha256 of a module of the package (``name.py``) or of a data file it ships."""
    return hashlib.sha256((PACKAGE_DIR / (name if "." in name else f"{name}.py"))
                          .read_bytes()).hexdigest()


@lru_cache(maxsize=None)
def source_hash(func: Callable) -> str:
    """The sha256 of a function's source."""
    return hashlib.sha256(inspect.getsource(func).encode()).hexdigest()


def code_hash(code) -> str:
    """The hash of a module of the package (by name) or of a function."""
    return source_hash(code) if callable(code) else module_hash(code)


def stage_key(stage: str, config_hash: str, data_fingerprint: str, *inputs: str,
              modules: tuple = (), extra: str = "") -> str:
    """The content hash that decides whether ``stage``'s saved result is fresh.

    ``modules``: the code the stage runs besides config: modules of the package by
    name, and functions (their source).
    """
    parts = [stage, config_hash, data_fingerprint, extra, *inputs,
             *(code_hash(m) for m in ("config", *modules))]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


# ---------------------------------------------------------------- one invocation

def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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
    workers: int | None = None        # stages side by side; None: cores // STAGE_THREADS
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
    def torch_device(self):
        from .training import select_device

        return select_device(self.device)

    @property
    def worker_count(self) -> int:
        if self.workers is not None:
            return max(1, self.workers)
        return max(1, available_cores() // STAGE_THREADS)

    def forced(self, stage: str) -> bool:
        return "all" in self.force or stage.split(":")[0] in self.force

    def note(self, stage: str, status: str, why: str) -> None:
        self.log.append((stage, status, why))
        colour = {"reused": "green", "recomputed": "yellow"}.get(status, "red")
        console.print(f"[{colour}]{status:>10}[/] {stage}: {why}", highlight=False)

    def timed(self, stage: str, seconds: float) -> None:
        self.timings[stage] = self.timings.get(stage, 0.0) + seconds


def cached(run: Run, stage: str, path: Path, key: str, load):
    """The saved result if its key matches; None (and the reason noted) otherwise.

    ``load(path) -> (saved, saved_key)``; it raises ResultError for an unusable file.
    """
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
            "(for the full profile: a GPU, see scripts/README.md), or drop --saved-only.")
    run.note(stage, "recomputed", why)
    return None


def _rekey(saved, key: str) -> None:
    """Give a stale result the key it would have now (records, results and Reps)."""
    target = saved[0] if isinstance(saved, tuple) else saved
    if hasattr(target, "provenance"):
        target.provenance.stage_key = key
    else:
        target.key = key


# ---------------------------------------------------------------- what a run wrote

INDEX = "index.json"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _index(results_dir: Path) -> dict:
    try:
        return json.loads((Path(results_dir) / INDEX).read_text())
    except (OSError, ValueError):
        return {}


def record_written(*paths: Path) -> None:
    """Add each file's sha256 to the index of its results folder (``index.json``)."""
    for folder in {Path(p).parent for p in paths}:
        index = _index(folder)
        index.update({Path(p).name: file_sha256(p) for p in paths if Path(p).parent == folder})
        atomic_write(folder / INDEX, json.dumps(index, indent=1, sort_keys=True))


def check_written(path: Path) -> None:
    """A ResultError if ``path`` differs from what the run that wrote it recorded."""
    expected = _index(Path(path).parent).get(Path(path).name)
    if expected is not None and file_sha256(path) != expected:
        raise ResultError(f"{path} was changed after the run wrote it (it differs from "
                          f"{INDEX}); delete it and run the stage again")


def check_origin(provenance, run: "Run", path: Path) -> None:
    """A ResultError if a saved result belongs to another profile or seed than its folder."""
    p = run.profile
    if (provenance.profile, provenance.seed) != (p.name, p.seed):
        raise ResultError(f"{path} was computed for profile {provenance.profile!r}, seed "
                          f"{provenance.seed}, not for this folder's {p.name!r}, seed {p.seed}; "
                          "it was copied from another run. Delete it")


# ---------------------------------------------------------------- where results go

LOCK = ".lock"


def check_writable(folder: Path, what: str, need_bytes: int = 0) -> None:
    """An error naming ``folder`` and the fix if it cannot hold results: a file where the
    folder should be, no permission to write, or less free space than ``need_bytes``."""
    folder = Path(folder)
    fix = "set VICREG_BUILD_DIR (or --results) to a folder you can write to"
    for part in (folder, *folder.parents):
        if part.exists():
            if not part.is_dir():
                raise VicregError(f"The {what} {folder} cannot be made: {part} is a file, not a "
                                  f"folder. Move the file away, or {fix}.")
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise VicregError(f"The {what} {folder} cannot be written ({exc.strerror or exc}). Fix "
                          f"its permissions, or {fix}.") from None
    free = shutil.disk_usage(folder).free
    if free < need_bytes:
        raise VicregError(f"The {what} {folder} has {free / 2**20:,.0f} MiB free; this run "
                          f"needs about {need_bytes / 2**20:,.0f} MiB. Free some space, or {fix}.")


@contextmanager
def exclusive(results_dir: Path):
    """One computing run at a time per results folder: a second one waits, with a message,
    then finds the first one's results saved and reuses them."""
    import fcntl

    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    with open(results_dir / LOCK, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            console.print(f"[yellow]{results_dir} is in use by a run ({holder}); waiting for it "
                          "to finish, then its results are reused")
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------- arrays beside a result

def save_arrays(path: Path, arrays: dict[str, np.ndarray], key: str) -> bytes:
    """Arrays and the stage key they belong to, as one .npz; returns the bytes written."""
    buf = io.BytesIO()
    np.savez(buf, **arrays, stage_key=np.asarray(key))
    atomic_write(path, buf.getvalue())
    return buf.getvalue()


def load_arrays(path: Path) -> tuple[dict[str, np.ndarray], str]:
    try:
        with np.load(path) as z:
            return {k: z[k] for k in z.files if k != "stage_key"}, str(z["stage_key"])
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise ResultError(f"{path} is unreadable ({exc})") from None


# ---------------------------------------------------------------- stages from saved inputs

@dataclass(frozen=True)
class Spec:
    """A stage that reads saved inputs only: one result (and arrays) per stage name.

    ``compute() -> result``, or ``(result, arrays)`` when ``arrays``; ``inputs``: the
    keys of the stages it reads; ``settings``: the profile fields that enter its key
    (None: the whole configuration); ``modules``: the code it runs (``stage_key``).
    """

    name: str
    result: type
    compute: Callable[[], Any]
    inputs: tuple[str, ...] = ()
    arrays: bool = False
    settings: tuple[str, ...] | None = None
    modules: tuple = ()

    def key(self, profile: Profile, fingerprint: str) -> str:
        config = profile.config_hash() if self.settings is None else \
            repr({name: getattr(profile, name) for name in self.settings})
        return stage_key(self.name, config, fingerprint, *self.inputs, modules=self.modules)

    def paths(self, results_dir: Path) -> tuple[Path, Path]:
        stem = self.name.replace(":", ".")
        return results_dir / f"{stem}.json", results_dir / f"{stem}.npz"


def _load_spec(spec: Spec, run: Run):
    path, array_path = spec.paths(run.results_dir)
    record = load_record(path, spec.result)
    check_origin(record.provenance, run, path)
    check_written(path)
    extra = None
    if spec.arrays:
        check_written(array_path)
        extra, array_key = load_arrays(array_path)
        if array_key != record.provenance.stage_key:
            raise ResultError(f"{array_path} belongs to another computation than {path.name}")
    return (record, extra), record.provenance.stage_key


@contextmanager
def stage_threads(n: int = STAGE_THREADS):
    """Torch, BLAS and OpenMP limited to ``n`` threads while a stage computes."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        torch.set_num_threads(before)


def compute_and_save(run: Run, data, spec: Spec, key: str) -> float:
    """Compute one stage and save its result (and arrays); returns its wall time."""
    started = time.perf_counter()
    with stage_threads():
        out = spec.compute()
    result, extra = out if spec.arrays else (out, None)
    json_path, array_path = spec.paths(run.results_dir)
    if spec.arrays:
        save_arrays(array_path, extra, key)
    save_result(result, json_path, make_provenance(run.profile, data, run.torch_device,
                                                   started, key))
    return time.perf_counter() - started


def run_specs(run: Run, data, specs: list[Spec],
              rebuild: Callable | None = None) -> dict[str, tuple[Record, dict | None]]:
    """Every stage of ``specs``: reused while fresh, otherwise computed and saved.

    With more than one worker (and ``rebuild``, a module-level function giving
    ``(data, {name: Spec})`` for a Run in a fresh process), the stages to compute
    run side by side in worker processes; their results are the same as in turn.
    """
    out, pending = {}, []
    for spec in specs:
        key = spec.key(run.profile, data.fingerprint)
        saved = cached(run, spec.name, spec.paths(run.results_dir)[0], key,
                       lambda path, spec=spec: _load_spec(spec, run))
        if saved is None:
            pending.append((spec, key))
        else:
            out[spec.name] = saved
    workers = min(run.worker_count, len(pending))
    if workers > 1 and rebuild is not None:
        seconds = in_workers(run, workers, [(_compute_in_worker, (rebuild, run, spec.name, key))
                                            for spec, key in pending],
                             [spec.name for spec, _ in pending])
    else:
        seconds = _in_turn(run, data, pending)
    for (spec, _), took in zip(pending, seconds):
        run.timed(spec.name.split(":")[0], took)
        record_written(*(p for p in spec.paths(run.results_dir) if p.is_file()))
        out[spec.name] = _load_spec(spec, run)[0]
    return out


def _in_turn(run: Run, data, pending: list[tuple[Spec, str]]) -> list[float]:
    seconds = []
    with progress_bar(run.show_progress and len(pending) > 1) as bar:
        task = bar.add_task("stages", total=len(pending), status="")
        for spec, key in pending:
            bar.update(task, status=spec.name)
            seconds.append(compute_and_save(run, data, spec, key))
            bar.update(task, advance=1)
    return seconds


# ---------------------------------------------------------------- worker processes

def in_workers(run: Run, workers: int, calls: list[tuple[Callable, tuple]],
               names: list[str], show: bool = True) -> list:
    """``fn(*args)`` for each call, ``workers`` at a time in fresh processes (spawned, so
    that no thread pool of this process is inherited); their return values, in order.
    The first failure cancels what has not started and is raised here. ``show``: a bar
    of the calls done (off where a worker shows its own)."""
    context = multiprocessing.get_context("spawn")
    results: list = [None] * len(calls)
    with progress_bar(run.show_progress and show) as bar, \
            ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        task = bar.add_task(f"{workers} workers", total=len(calls), status="")
        futures = {pool.submit(fn, *args): i for i, (fn, args) in enumerate(calls)}
        todo = set(futures)
        try:
            while todo:
                done, todo = wait(todo, return_when=FIRST_COMPLETED)
                for future in done:
                    results[futures[future]] = future.result()
                    bar.update(task, advance=1, status=names[futures[future]])
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return results


_WORKER_SPECS: dict = {}


def _compute_in_worker(rebuild: Callable, run: Run, name: str, key: str) -> float:
    """In a worker process: the stage ``name`` of ``rebuild(run)``, computed and saved."""
    memo = (rebuild.__module__, rebuild.__qualname__, repr(run.profile), str(run.results_dir))
    if memo not in _WORKER_SPECS:
        _WORKER_SPECS.clear()
        _WORKER_SPECS[memo] = rebuild(run)
    data, specs = _WORKER_SPECS[memo]
    return compute_and_save(run, data, specs[name], key)
