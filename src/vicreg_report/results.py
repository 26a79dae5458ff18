"""Typed results saved as JSON with provenance; loading validates them.

Every result is a dataclass. ``save_result`` writes
``{"schema": N, "type": "ProbeResult", "data": {...}}`` atomically;
``load_result`` rebuilds the dataclass and rejects a corrupted, truncated or
incompatible file with a clear message.

A result cannot be edited silently: each file records the sha256 of its own
content (``content_sha256``), checked on load; a value that is NaN or infinite
is refused with its field named; and a result type may define ``problems()``,
a check across its related numbers (an overall accuracy against its per-class
accuracies, say), run on load.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import platform
import subprocess
import tempfile
import time
import types
import typing
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from .errors import VicregError
from .paths import REPO_ROOT

SCHEMA_VERSION = 2


class ResultError(VicregError):
    pass


# The process's umask, read once: os.umask can only be read by setting it.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def temp_beside(path: Path) -> Path:
    """A new empty file beside ``path`` (the same folder, so renaming it over ``path`` is
    atomic), with the permissions of any new file: 0644 under the usual umask, where
    mkstemp alone makes 0600."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, 0o666 & ~_UMASK)
    os.close(fd)
    return Path(tmp)


def atomic_write(path: Path, payload: bytes | str) -> Path:
    """Write to a temporary file beside ``path``, then rename over it: a reader sees the
    old file or the new one, never a part of either."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = payload.encode() if isinstance(payload, str) else payload
    tmp = temp_beside(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


# ---------------------------------------------------------------- provenance

@dataclass
class Provenance:
    commit: str
    profile: str
    config_hash: str
    config: dict
    seed: int
    data_source: str
    data_fingerprint: str
    data_verified: bool
    python: str
    torch: str
    torchvision: str
    numpy: str
    libraries: dict[str, str]    # the other libraries whose code computes results
    device: str
    wall_time_s: float
    created: str
    stage_key: str = ""          # see stages.py: what this result was computed from
    numerics: str = "float32"    # how training computed (training.numerics)


def git_commit() -> str:
    """HEAD's short hash, with '+dirty' when the tree has changes. Outside a git checkout
    (a copy of the tree on a GPU machine), $VICREG_COMMIT as its caller gave it, else
    'unknown'."""
    try:
        run = lambda *a: subprocess.run(["git", *a], cwd=REPO_ROOT, capture_output=True,
                                        text=True, timeout=10, check=True).stdout.strip()
        commit = run("rev-parse", "--short=12", "HEAD")
        dirty = run("status", "--porcelain", "--untracked-files=no")
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return os.environ.get("VICREG_COMMIT", "unknown")


# Besides torch, torchvision and numpy (provenance fields of their own).
LIBRARIES = ("scipy", "scikit-learn", "faiss-cpu", "openTSNE")


@lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    """Installed version of each library in LIBRARIES ('absent' where missing), and which
    library the exact kNN search runs on (faiss, or torch where faiss cannot be imported)."""
    from .neighbours import BACKEND

    versions = {}
    for lib in LIBRARIES:
        try:
            versions[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            versions[lib] = "absent"
    versions["kNN"] = BACKEND
    return versions


def device_description(device) -> str:
    import torch

    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    cpu = platform.processor() or platform.machine()
    return f"cpu ({cpu}, {thread_count(torch.get_num_threads())})"


def thread_count(threads: int) -> str:
    """'1 thread', '2 threads': how provenance and progress lines name a thread count."""
    return f"{threads} thread{'s' * (threads != 1)}"


def make_provenance(profile, data, device, started: float, stage_key: str = "",
                    numerics: str = "float32") -> Provenance:
    import numpy
    import torch
    import torchvision

    return Provenance(
        commit=git_commit(), profile=profile.name, config_hash=profile.config_hash(),
        config=dataclasses.asdict(profile), seed=profile.seed,
        data_source=data.source, data_fingerprint=data.fingerprint,
        data_verified=data.verified, python=platform.python_version(),
        torch=torch.__version__, torchvision=torchvision.__version__,
        numpy=numpy.__version__, libraries=dict(library_versions()),
        device=device_description(device),
        wall_time_s=round(time.perf_counter() - started, 3),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"), stage_key=stage_key,
        numerics=numerics)


# ---------------------------------------------------------------- result types

@dataclass
class LossHistory:
    """Each term and the total: per training batch (``train``) and its mean over each
    epoch (``train_epochs``), and per epoch on the test set (the mean over its batches;
    ``test_batches[term][epoch]`` holds each batch's value)."""

    train: dict[str, list[float]]
    train_epochs: dict[str, list[float]]
    test: dict[str, list[float]]
    steps_per_epoch: int
    test_batches: dict[str, list[list[float]]]


@dataclass
class TrainResult:
    model: str                   # e.g. "q1"
    history: LossHistory
    checkpoint: str              # path relative to the results folder
    train_images: int
    provenance: Provenance

    def problems(self) -> list[str]:
        h = self.history
        epochs = len(h.test["total"])
        return [f"{len(h.train[term])} training losses of {term}, not {epochs} epochs of "
                f"{h.steps_per_epoch} steps" for term in h.train
                if len(h.train[term]) != epochs * h.steps_per_epoch]




# ---------------------------------------------------------------- JSON round trip

def content_hash(doc: dict) -> str:
    """sha256 of a result document without its own hash, in one canonical JSON form."""
    body = {k: v for k, v in doc.items() if k != "content_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"),
                                     allow_nan=True).encode()).hexdigest()


def save_result(result, path: Path, provenance: Provenance | None = None) -> Path:
    """Write a result dataclass; ``provenance`` for results that do not hold their own."""
    doc = {"schema": SCHEMA_VERSION, "type": type(result).__name__,
           "data": dataclasses.asdict(result)}
    if provenance is not None:
        doc["provenance"] = dataclasses.asdict(provenance)
    doc = json.loads(json.dumps(doc, allow_nan=False))   # as it will be read back
    doc["content_sha256"] = content_hash(doc)
    atomic_write(path, json.dumps(doc, indent=1, sort_keys=True, allow_nan=False))
    return Path(path)


def non_finite(value, where: str = "") -> str | None:
    """The dotted path of the first NaN or infinite number inside ``value``, if any."""
    if isinstance(value, float) and not math.isfinite(value):
        return where or "(the value)"
    items = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = non_finite(item, f"{where}.{key}" if where else str(key))
        if found:
            return found
    return None


@dataclass
class Record:
    """A result and the provenance saved beside it."""

    result: object
    provenance: Provenance


def load_record(path: Path, cls: type) -> Record:
    """A result saved with ``save_result(result, path, provenance)``."""
    result, doc = _load(path, cls)
    try:
        return Record(result, _from_dict(Provenance, doc["provenance"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ResultError(f"Result file {path} has no valid provenance ({exc}). Delete it "
                          "and run the stage again.") from None


def load_result(path: Path, cls: type):
    """Read ``path`` as a ``cls``; a clear ResultError on anything wrong with it."""
    return _load(path, cls)[0]


def _fix(path: Path) -> str:
    return f"Delete {path} and run the stage again (e.g. `nox -s report`)."


def load_document(path: Path) -> dict:
    """A result file's JSON document, checked: readable, this schema, no value that is
    not finite, and its content as written (``content_sha256``)."""
    path = Path(path)
    fix = _fix(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultError(f"Result file {path} does not exist. Run the stage that makes it.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultError(f"Result file {path} is corrupted or truncated ({exc}). {fix}") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA_VERSION:
        found = doc.get("schema") if isinstance(doc, dict) else None
        raise ResultError(f"Result file {path} has schema {found!r}; this version reads "
                          f"schema {SCHEMA_VERSION}. {fix}")
    bad = non_finite(doc)
    if bad:
        raise ResultError(f"Result file {path} holds a value that is not a finite number, "
                          f"at {bad}. {fix}")
    if doc.get("content_sha256") != content_hash(doc):
        raise ResultError(f"Result file {path} was changed after the run wrote it (its content "
                          f"no longer matches its sha256). {fix}")
    return doc


def _load(path: Path, cls: type):
    path = Path(path)
    fix = _fix(path)
    doc = load_document(path)
    if doc.get("type") != cls.__name__:
        raise ResultError(f"Result file {path} holds a {doc.get('type')!r}, not a "
                          f"{cls.__name__}. {fix}")
    try:
        result = _from_dict(cls, doc["data"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ResultError(f"Result file {path} does not match the {cls.__name__} "
                          f"format ({exc}). {fix}") from None
    problems = result.problems() if hasattr(result, "problems") else []
    if problems:
        raise ResultError(f"Result file {path} is inconsistent: {'; '.join(problems)}. {fix}")
    return result, doc


def _from_dict(tp, value):
    """Rebuild a value of (possibly nested) dataclass type ``tp``, checking shapes."""
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise TypeError(f"expected an object for {tp.__name__}")
        hints = typing.get_type_hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        if set(value) != names:
            raise KeyError(f"fields {sorted(set(value) ^ names)} missing or unexpected")
        return tp(**{k: _from_dict(hints[k], value[k]) for k in names})
    origin = typing.get_origin(tp)
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        (item,) = typing.get_args(tp)[:1] or (typing.Any,)
        return [_from_dict(item, v) for v in value]
    if origin is dict:
        if not isinstance(value, dict):
            raise TypeError(f"expected an object, got {type(value).__name__}")
        _, item = typing.get_args(tp)
        return {k: _from_dict(item, v) for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            try:
                return _from_dict(option, value)
            except (TypeError, KeyError, ValueError):
                continue
        raise TypeError(f"{value!r} fits none of {tp}")
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"expected a number, got {value!r}")
        return float(value)
    if tp in (int, str, bool):
        if type(value) is not tp:
            raise TypeError(f"expected {tp.__name__}, got {value!r}")
        return value
    if tp is type(None):
        if value is not None:
            raise TypeError(f"expected null, got {value!r}")
        return None
    return value  # typing.Any, plain dict
