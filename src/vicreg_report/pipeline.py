"""The study's stages, in order: prepare -> train -> evaluate -> figures -> report.

Each stage reads what earlier stages wrote under ``build/`` and reuses a result
whose configuration and data fingerprint match; ``force`` recomputes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import data as data_mod
from .config import Profile
from .errors import VicregError
from .model import build_model
from .paths import build_dir
from .probe import fit_linear_probe
from .progress import console
from .representations import encode
from .results import (ProbeResult, Provenance, ResultError, TrainResult, load_result,
                      make_provenance, save_result)
from .training import load_checkpoint, select_device, train_vicreg


@dataclass
class Run:
    """Options shared by every stage of one invocation."""

    profile: Profile
    data: str | None = None
    download: bool = False
    device: str = "auto"
    force: bool = False
    show_progress: bool = True
    timings: dict = field(default_factory=dict)

    @property
    def results_dir(self) -> Path:
        return build_dir() / "results" / self.profile.name

    @property
    def report_dir(self) -> Path:
        return build_dir() / "report" / self.profile.name

    @property
    def torch_device(self) -> torch.device:
        return select_device(self.device)


def _timed(run: Run, stage: str):
    class Timer:
        def __enter__(self):
            self.start = time.perf_counter()

        def __exit__(self, *exc):
            if exc[0] is None:
                run.timings[stage] = time.perf_counter() - self.start
    return Timer()


def _fresh(path: Path, cls, run: Run, data) -> object | None:
    """The saved result at ``path`` if it matches this configuration and data."""
    if run.force or not path.is_file():
        return None
    try:
        result = load_result(path, cls)
    except ResultError as exc:
        console.print(f"[yellow]{exc} Recomputing.")
        return None
    prov: Provenance = result.provenance
    if prov.config_hash != run.profile.config_hash() or prov.data_fingerprint != data.fingerprint:
        return None
    return result


def prepare(run: Run) -> data_mod.PreparedData:
    with _timed(run, "prepare"):
        if run.profile.synthetic_data:
            return data_mod.synthetic(run.profile.seed, run.profile.train_images,
                                      run.profile.test_images)
        target = None
        if run.download:
            target = Path(run.data or data_mod.default_locations()[-1])
        return data_mod.prepare(run.data, download_to=target)


def train(run: Run, data) -> TrainResult:
    """Q1: train VICReg unless a checkpoint for the same configuration exists."""
    path = run.results_dir / "train.q1.json"
    result = _fresh(path, TrainResult, run, data)
    if result and (run.results_dir / result.checkpoint).is_file():
        console.print(f"train q1: reusing {path} (same configuration and data)")
        return result
    with _timed(run, "train"):
        result, _ = train_vicreg(run.profile, data, run.results_dir / "q1.pt",
                                 run.torch_device, "q1", run.show_progress)
        save_result(result, path)
    return result


def evaluate(run: Run, data, trained: TrainResult) -> dict[str, ProbeResult]:
    """Q3: linear probe on the trained encoder and on the same encoder untrained."""
    p, device = run.profile, run.torch_device
    probes = {}
    with _timed(run, "evaluate"):
        for name in ("q1", "random_init"):
            path = run.results_dir / f"probe.{name}.json"
            cached = _fresh(path, ProbeResult, run, data)
            if cached and cached.provenance.created >= trained.provenance.created:
                probes[name] = cached
                continue
            started = time.perf_counter()
            if name == "q1":
                model = load_checkpoint(p, run.results_dir / trained.checkpoint, device)
            else:
                model = build_model(p).to(device)  # the weights Q1 started from
            probes[name] = probe_encoder(run, data, model.encoder, name, started)
            save_result(probes[name], path)
    return probes


def probe_encoder(run: Run, data, encoder, name: str, started: float) -> ProbeResult:
    p, device = run.profile, run.torch_device
    train_idx = data_mod.balanced_subset(data.train_y, p.train_images)
    test_idx = data_mod.balanced_subset(data.test_y, p.test_images)
    with console.status(f"probe {name}: encoding and fitting"):
        train_x = encode(encoder, data.train_x[train_idx], device)
        test_x = encode(encoder, data.test_x[test_idx], device)
        fit = fit_linear_probe(train_x, data.train_y[train_idx], test_x, data.test_y[test_idx],
                               p.probe_epochs, p.probe_lr, p.probe_batch_size, p.seed)
    settings = {"epochs": p.probe_epochs, "lr": p.probe_lr, "batch_size": p.probe_batch_size,
                "optimizer": "Adam", "standardized": True,
                "train_images": len(train_idx), "test_images": len(test_idx)}
    return ProbeResult(encoder=name, settings=settings,
                       provenance=make_provenance(p, data, device, started), **fit)


def figures(run: Run, trained: TrainResult) -> dict[str, Path]:
    from .figures import training_curves

    with _timed(run, "figures"):
        fig_dir = run.report_dir / "figures"
        return {"training_curves": training_curves(trained.history,
                                                   fig_dir / "training_curves.png")}


def report(run: Run) -> dict[str, Path]:
    """Every stage that is missing or stale, then the document."""
    from .render import build_document
    from .report_context import build_context

    started = time.perf_counter()
    data = prepare(run)
    trained = train(run, data)
    probes = evaluate(run, data, trained)
    figure_paths = figures(run, trained)
    with _timed(run, "render"):
        context = build_context(run, data, trained, probes, figure_paths, started)
        outputs = build_document(context, run.report_dir)
    return outputs


def require_outputs(outputs: dict[str, Path]) -> None:
    missing = [str(p) for p in outputs.values() if not p.is_file() or p.stat().st_size == 0]
    if missing:
        raise VicregError("Rendering left these outputs missing or empty: " + ", ".join(missing))
