"""Training throughput of the two augmentation pipelines, on the device at hand.

    python -m vicreg_report.bench [--profile quick] [--steps 5] [--warmup 2]
                                  [--device auto|cpu|cuda] [--data PATH] [--study]

Both pipelines feed the same training step as ``training.py`` (the profile's
model, forward, backward, Adam step, with the device's ``Speed`` settings):

- reference: torchvision per-image transforms (``augment.reference_transform``)
  in a torch DataLoader with min(8, CPUs) worker processes, two views per
  image, batches then moved to the device;
- batched: what training does, uint8 images resident on the device and
  ``augment.two_views`` on whole batches.

Images per second count source images (each gives two views) over the timed
steps, data loading included. The JSON goes to build/bench/<profile>-<device>.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import resource
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
import torchvision
from rich.markup import escape
from rich.table import Table

from . import data as data_mod
from .augment import reference_transform, to_device
from .cli import non_negative, positive
from .config import DEFAULT_PROFILE, PROFILES, Profile, get_profile
from .errors import VicregError
from .model import build_model
from .paths import build_dir
from .progress import console, progress_bar
from .results import atomic_write, device_description, git_commit
from .training import (PLAIN, Speed, as_tensor, augmented_pairs, make_optimizer, native_bf16,
                       prepare_model, select_device, speed_for, train_step)

Batches = Iterator[tuple[torch.Tensor, torch.Tensor]]
MAX_WORKERS = 8
PREFETCH = 2      # batches each DataLoader worker prepares ahead (torch's default)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m vicreg_report.bench",
        description="Training images/s with torchvision's per-image augmentation (DataLoader "
                    "workers) and with the batched on-device augmentation training uses; "
                    "peak memory; the study's stage times. JSON under build/bench/.")
    ap.add_argument("--profile", default=DEFAULT_PROFILE, choices=list(PROFILES),
                    help=f"model, batch size and images of this profile "
                         f"(default {DEFAULT_PROFILE})")
    ap.add_argument("--steps", type=positive, default=5,
                    help="timed steps per pipeline (default 5)")
    ap.add_argument("--warmup", type=non_negative, default=2,
                    help="untimed steps first (default 2)")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--data", metavar="PATH", help="data folder or zip, as for the study")
    ap.add_argument("--study", action="store_true",
                    help="also run the whole study for the profile in a fresh build folder and "
                         "report its stage times (else read them from an existing timings.json)")
    ap.add_argument("--processes", type=positive, nargs="+", metavar="N",
                    help="instead: the training step with DDP on N gloo processes of the "
                         "CPU (e.g. 1 2), each with its share of the cores: the overhead of "
                         "scaling out (JSON: ddp-<profile>-cpu.json)")
    ap.add_argument("--no-compile", action="store_true",
                    help="leave torch.compile out of the numerics comparison")
    ap.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return ap


# ---------------------------------------------------------------- the two pipelines

class ReferencePairs(torch.utils.data.Dataset):
    """Two torchvision-augmented views of each uint8 (H, W, C) image."""

    def __init__(self, images: np.ndarray, view_size: int = 32):
        self.images = images
        self.transform = reference_transform(view_size)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        image = torch.from_numpy(self.images[i]).permute(2, 0, 1)
        return self.transform(image), self.transform(image)


def reference_batches(images: np.ndarray, order: torch.Tensor, batch_size: int,
                      workers: int, device: torch.device, view_size: int = 32) -> Batches:
    loader = torch.utils.data.DataLoader(
        ReferencePairs(images, view_size), batch_size=batch_size, sampler=order.tolist(),
        num_workers=workers, prefetch_factor=PREFETCH if workers else None,
        pin_memory=device.type == "cuda", drop_last=True)
    for x, y in loader:
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def batched_batches(images: np.ndarray, order: torch.Tensor, batch_size: int,
                    device: torch.device, seed: int, speed: Speed,
                    view_size: int = 32) -> Batches:
    pairs = augmented_pairs(as_tensor(images, device), speed, size=view_size)
    order = to_device(order, device)
    g = torch.Generator().manual_seed(seed + 1)
    for start in range(0, len(order) - batch_size + 1, batch_size):
        yield pairs(order[start:start + batch_size], g)


def sample_order(n: int, count: int, seed: int) -> torch.Tensor:
    """``count`` image indices: shuffled passes over the n images, as many as needed."""
    g = torch.Generator().manual_seed(seed)
    return torch.cat([torch.randperm(n, generator=g) for _ in range(math.ceil(count / n))])[:count]


# ---------------------------------------------------------------- timing and memory

def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size so far (of this process, or of its largest finished child)."""
    peak = resource.getrusage(who).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes / KiB


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return rss_mib()


def time_training(p: Profile, batches: Batches, device: torch.device, speed: Speed,
                  warmup: int, steps: int, advance: Callable[[], None], drain: int = 0) -> dict:
    """Train a fresh model of ``p`` on ``batches``: ``warmup`` steps, then ``steps`` timed.

    ``drain``: batches dropped between the two, so that batches a loader prepared
    during the warm-up do not flatter the timed steps (they start from steady state).
    """
    reset_peak_memory(device)
    model = prepare_model(build_model(p), device, speed)
    optimizer = make_optimizer(model, p, speed)

    def step():
        x, y = next(batches)
        train_step(model, optimizer, x, y, p, speed)
        advance()

    for _ in range(warmup):
        step()
    for _ in range(drain):
        next(batches)
    synchronize(device)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    seconds = time.perf_counter() - started
    batches.close()                  # ends the DataLoader's workers, if any
    return {"images_per_s": steps * p.batch_size / seconds, "step_s": seconds / steps,
            "timed_s": seconds, "peak_memory_mib": peak_memory_mib(device)}


def measure(p: Profile, images: np.ndarray, device: torch.device, warmup: int, steps: int,
            show_progress: bool) -> dict:
    """Both pipelines on the same images in the same order, each with a fresh model."""
    speed = speed_for(device, p.cpu_bf16)
    workers = min(MAX_WORKERS, os.cpu_count() or 1)
    drain = workers * PREFETCH
    order = sample_order(len(images), (warmup + drain + steps) * p.batch_size, p.seed)
    runs = {   # name: (batches, batches to drain after the warm-up)
        "batched_on_device": (lambda: batched_batches(images, order, p.batch_size, device,
                                                      p.seed, speed, p.view_size), 0),
        "reference_per_image": (lambda: reference_batches(images, order, p.batch_size, workers,
                                                          device, p.view_size), drain),
    }
    out = {}
    with progress_bar(show_progress) as bar:
        for name, (batches, skip) in runs.items():
            task = bar.add_task(name, total=warmup + steps, status="")
            out[name] = time_training(p, batches(), device, speed, warmup, steps,
                                      lambda: bar.advance(task), skip)
    out["reference_per_image"] |= {"workers": workers, "drained_batches": drain}
    if device.type == "cpu":
        out["reference_per_image"]["worker_peak_rss_mib"] = rss_mib(resource.RUSAGE_CHILDREN)
    return out


# ---------------------------------------------------------------- numerics, side by side

NUMERICS = {   # name: how the training step computes (see training.Speed)
    "float32": PLAIN,
    "float32, channels_last": Speed(channels_last=True),
    "bf16 autocast": Speed(bf16=True),
    "bf16 autocast, channels_last": Speed(bf16=True, channels_last=True),
}
COMPILED = "bf16 autocast, channels_last, torch.compile"


def numerics_variants(device: torch.device, compile_too: bool) -> dict[str, tuple[Speed, bool]]:
    """The variants to time: (Speed, whether the encoder goes through torch.compile)."""
    base = {name: (speed, False) for name, speed in NUMERICS.items()}
    if device.type == "cuda":
        base = {name: (replace(speed, fused_adam=True, cudnn_benchmark=True), False)
                for name, (speed, _) in base.items()}
    if compile_too:
        base[COMPILED] = (base["bf16 autocast, channels_last"][0], True)
    return base


def time_numerics(p: Profile, images: np.ndarray, device: torch.device, warmup: int,
                  steps: int, compile_too: bool, show_progress: bool) -> dict:
    """The training step under each numerics variant, interleaved step by step (so that
    a change in the machine's load falls on every variant alike), on the same batches.

    A variant's first step is timed apart: with torch.compile it holds the compilation.
    """
    variants = numerics_variants(device, compile_too)
    g = torch.Generator().manual_seed(p.seed + 1)
    tensor = as_tensor(images, device)
    order = to_device(sample_order(len(images), (warmup + steps) * p.batch_size, p.seed), device)
    batches = [augmented_pairs(tensor, size=p.view_size)(
        order[i * p.batch_size:(i + 1) * p.batch_size], g)
               for i in range(warmup + steps)]
    runs = {}
    for name, (speed, compiled) in variants.items():
        model = prepare_model(build_model(p), device, speed)
        if compiled:
            model.encoder = torch.compile(model.encoder)
        runs[name] = (model, make_optimizer(model, p, speed), speed)
    times: dict[str, list[float]] = {name: [] for name in runs}
    with progress_bar(show_progress) as bar:
        task = bar.add_task("numerics", total=(warmup + steps) * len(runs), status="")
        for x, y in batches:
            for name, (model, optimizer, speed) in runs.items():
                synchronize(device)
                started = time.perf_counter()
                train_step(model, optimizer, x, y, p, speed)
                synchronize(device)
                times[name].append(time.perf_counter() - started)
                bar.advance(task)
    out = {}
    for name, seconds in times.items():
        timed = seconds[max(1, warmup):]
        median = float(np.median(timed))
        out[name] = {"first_step_s": seconds[0], "step_min_s": min(timed),
                     "step_median_s": median, "images_per_s": p.batch_size / median,
                     "timed_steps": len(timed)}
    first = out["float32"]["step_median_s"]
    for row in out.values():
        row["speed_up"] = first / row["step_median_s"]
    return out


def can_compile(device: torch.device) -> bool:
    """torch.compile's CPU backend needs a C++ compiler; CUDA's needs triton."""
    if device.type == "cuda":
        return importlib.util.find_spec("triton") is not None
    return shutil.which(os.environ.get("CXX", "g++")) is not None


# ---------------------------------------------------------------- scaling out (DDP)

def _scaling_process(rank: int, world: int, folder: str, profile: str, data: str | None,
                     steps: int, warmup: int) -> None:
    """One of ``world`` gloo processes: time the distributed training step."""
    import torch.distributed as dist

    from .distributed import local_part, synchronise

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    if world > 1:
        dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous-{world}",
                                rank=rank, world_size=world)
    p = get_profile(profile)
    cpu = torch.device("cpu")
    images = as_tensor(train_images(p, data)[0], cpu)
    model = synchronise(prepare_model(build_model(p), cpu), cpu)
    optimizer = make_optimizer(model, p)
    pairs = augmented_pairs(images, Speed(), local_part(p.batch_size), p.view_size)
    order = sample_order(len(images), (warmup + steps) * p.batch_size, p.seed)
    g = torch.Generator().manual_seed(p.seed)
    for i in range(warmup + steps):
        if i == warmup:
            if world > 1:
                dist.barrier()
            started = time.perf_counter()
        x, y = pairs(order[i * p.batch_size:(i + 1) * p.batch_size], g)
        train_step(model, optimizer, x, y, p)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    if rank == 0:
        Path(folder, f"{world}.json").write_text(json.dumps(
            {"processes": world, "threads_each": torch.get_num_threads(),
             "step_s": (time.perf_counter() - started) / steps}))


def scaling(args) -> dict:
    """The distributed training step on 1, 2, ... gloo processes of this CPU."""
    import tempfile

    import torch.multiprocessing as mp

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for world in args.processes:
            mp.spawn(_scaling_process, args=(world, folder, args.profile, args.data,
                                             args.steps, args.warmup), nprocs=world)
            rows.append(json.loads(Path(folder, f"{world}.json").read_text()))
    p = get_profile(args.profile)
    for row in rows:
        row["images_per_s"] = p.batch_size / row["step_s"]
        row["step_vs_first"] = row["step_s"] / rows[0]["step_s"]
    return {"profile": p.name, "device": device_description(torch.device("cpu")),
            "batch_size": p.batch_size, "numerics": asdict(Speed()),
            "timed_steps": args.steps, "warmup_steps": args.warmup,
            "torch": torch.__version__, "commit": git_commit(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "rows": rows}


def show_scaling(result: dict, path: Path) -> None:
    table = Table(title=f"DDP training step (float32), profile {result['profile']}, global batch "
                        f"{result['batch_size']}, {result['device']}")
    for column in ("processes", "threads each", "s/step", "images/s", "step vs first"):
        table.add_column(column, justify="right")
    for r in result["rows"]:
        table.add_row(str(r["processes"]), str(r["threads_each"]), f"{r['step_s']:.3f}",
                      f"{r['images_per_s']:.1f}", f"{r['step_vs_first']:.2f}x")
    console.print(table)
    console.print(f"wrote {path}", highlight=False)


# ---------------------------------------------------------------- stage times

@contextmanager
def build_folder(path: Path):
    """Point VICREG_BUILD_DIR at ``path`` for the duration."""
    before = os.environ.get("VICREG_BUILD_DIR")
    os.environ["VICREG_BUILD_DIR"] = str(path)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("VICREG_BUILD_DIR", None)
        else:
            os.environ["VICREG_BUILD_DIR"] = before


def study_times(p: Profile, args, device: torch.device) -> tuple[dict, str]:
    """Run the whole study (report) in a fresh build folder; its stage times."""
    from . import pipeline

    if p.name == "full" and device.type == "cpu":
        raise VicregError("--study on the full profile trains ResNet-18 for 30 epochs: it "
                          "needs a CUDA GPU. Drop --study, or use --profile quick.")
    folder = build_dir() / "bench" / f"study-{p.name}-{device.type}"
    shutil.rmtree(folder, ignore_errors=True)
    run = pipeline.Run(p, data=args.data, device=device.type,
                       show_progress=not args.no_progress)
    with build_folder(folder):
        pipeline.report(run)
    return dict(run.timings), f"this run's --study, in {folder}"


def saved_times(p: Profile) -> tuple[dict, str]:
    """The stage times of the profile's last study under build/, if it left them."""
    path = build_dir() / "results" / p.name / f"seed-{p.seed}" / "timings.json"
    if not path.is_file():
        return {}, f"none: {path} does not exist (run the study, or pass --study)"
    try:
        return json.loads(path.read_text()), f"{path} (an earlier run, not this one)"
    except (OSError, json.JSONDecodeError) as exc:
        return {}, f"none: {path} is unreadable ({exc})"


# ---------------------------------------------------------------- the whole bench

def train_images(p: Profile, data_path: str | None) -> tuple[np.ndarray, str]:
    if p.synthetic_data:
        d = data_mod.synthetic(p.seed, p.train_images, p.test_images)
    else:
        with console.status("preparing the data"):
            d = data_mod.prepare(data_path)
    return d.train_x[data_mod.balanced_subset(d.train_y, p.train_images)], d.source


def bench(args) -> dict:
    p = get_profile(args.profile)
    device = select_device(args.device)
    images, source = train_images(p, args.data)
    if len(images) < p.batch_size:
        raise VicregError(f"Profile {p.name!r} has {len(images)} train images, fewer than one "
                          f"batch of {p.batch_size}.")
    pipelines = measure(p, images, device, args.warmup, args.steps, not args.no_progress)
    compile_too = not args.no_compile and can_compile(device)
    numerics = time_numerics(p, images, device, args.warmup, args.steps, compile_too,
                             not args.no_progress)
    times, times_source = study_times(p, args, device) if args.study else saved_times(p)
    return {
        "profile": p.name, "device_type": device.type, "device": device_description(device),
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "python": platform.python_version(), "cpu_count": os.cpu_count(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(), "data": source, "batch_size": p.batch_size,
        "warmup_steps": args.warmup, "timed_steps": args.steps,
        "speed": asdict(speed_for(device, p.cpu_bf16)),
        "native_bf16": native_bf16() if device.type == "cpu" else None,
        "pipelines": pipelines, "numerics": numerics,
        "numerics_note": "training step (forward, VICReg loss, backward, Adam) on the same "
                         "batches, the variants interleaved step by step; first step apart "
                         "(it holds torch.compile's compilation)",
        "ratio_batched_over_reference": pipelines["batched_on_device"]["images_per_s"]
        / pipelines["reference_per_image"]["images_per_s"],
        "peak_memory_kind": ("torch.cuda.max_memory_allocated, reset before each pipeline"
                             if device.type == "cuda" else
                             "peak RSS of this process so far (cannot be reset: the second "
                             "pipeline's value includes the first's peak); DataLoader workers "
                             "apart"),
        "stage_times_s": times, "stage_times_source": times_source,
    }


def show(result: dict, path: Path) -> None:
    table = Table(title=f"training throughput, profile {result['profile']}, {result['device']}")
    for column in ("pipeline", "images/s", "s/step", "peak memory MiB"):
        table.add_column(column, justify="left" if column == "pipeline" else "right")
    for name, r in result["pipelines"].items():
        table.add_row(name, f"{r['images_per_s']:.1f}", f"{r['step_s']:.3f}",
                      f"{r['peak_memory_mib']:.0f}")
    console.print(table)
    console.print(f"batched / reference: {result['ratio_batched_over_reference']:.2f}x "
                  f"({result['timed_steps']} timed steps of {result['batch_size']} images "
                  f"after {result['warmup_steps']} warm-up)")
    show_numerics(result)
    if result["stage_times_s"]:
        stages = Table(title="stage times (s)")
        stages.add_column("stage")
        stages.add_column("seconds", justify="right")
        for stage, seconds in result["stage_times_s"].items():
            stages.add_row(stage, f"{seconds:.1f}")
        console.print(stages)
    console.print(f"stage times: {escape(result['stage_times_source'])}", highlight=False)
    console.print(f"wrote {path}", highlight=False)


def show_numerics(result: dict) -> None:
    table = Table(title=f"training step by numerics (interleaved; native bf16: "
                        f"{result['native_bf16']}; training uses {result['speed']})")
    for column in ("numerics", "first step s", "min s/step", "median s/step", "images/s",
                   "vs float32"):
        table.add_column(column, justify="left" if column == "numerics" else "right")
    for name, r in result["numerics"].items():
        table.add_row(name, f"{r['first_step_s']:.2f}", f"{r['step_min_s']:.3f}",
                      f"{r['step_median_s']:.3f}", f"{r['images_per_s']:.0f}",
                      f"{r['speed_up']:.2f}x")
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.processes:
            result = scaling(args)
            path = build_dir() / "bench" / f"ddp-{result['profile']}-cpu.json"
        else:
            result = bench(args)
            path = build_dir() / "bench" / f"{result['profile']}-{result['device_type']}.json"
        atomic_write(path, json.dumps(result, indent=1, allow_nan=False))
    except VicregError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print("[red]interrupted; nothing was written")
        return 130
    (show_scaling if args.processes else show)(result, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
