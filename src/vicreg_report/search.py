"""The search behind the quick profile: Q1 settings compared on a validation split.

Each candidate changes a few of QUICK's fields (width, train images, view size, the
representations' image size, epochs, learning rate and its schedule). It trains Q1 on
the CIFAR-10 train images only, with the last ``VALIDATION_PER_CLASS`` images of every
class held out; the study's probe is fitted on the candidate's train representations
and scored on the held-out images, at each ridge penalty of PROBE_L2_TRIED (the
profile's ``probe_l2`` gives ``validation_acc``). The test set is never read. The table,
with each candidate's training minutes on this machine, is the evidence for QUICK
(``reference/quick.search.json``). Rows measured with an earlier probe say which
(``probe``); recomputing one keeps its earlier accuracy under ``earlier_probe``.

    python -m vicreg_report.search            # every candidate not yet in the table
    python -m vicreg_report.search --only base cosine
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from rich.table import Table

from .config import QUICK, Profile
from .data import PreparedData, balanced_subset, prepare
from .errors import VicregError
from .model import build_model
from .probe import METHOD, fit_linear_probe
from .progress import console
from .representations import encode
from .results import atomic_write, device_description, git_commit
from .training import numerics, select_device, speed_for, train_vicreg

VALIDATION_PER_CLASS = 500
PROBE_L2_TRIED = (0.0, 1e-4, 1e-3, 1e-2)
TABLE = Path(__file__).parent / "reference" / "quick.search.json"

# Each candidate: QUICK with these fields changed. "base" is the profile the search began from.
BASE = dict(width=16, train_images=10_000, epochs=15, batch_size=256, lr=2e-3,
            lr_schedule="constant", lr_warmup_epochs=0, view_size=32, encode_size=32)
ALL_45K = {**BASE, "train_images": 45_000, "epochs": 3}      # every kept train image
CANDIDATES: dict[str, dict] = {
    "base": BASE,
    "cosine": {**BASE, "lr_schedule": "cosine", "lr_warmup_epochs": 1},
    "cosine_lr4e-3": {**BASE, "lr": 4e-3, "lr_schedule": "cosine", "lr_warmup_epochs": 1},
    "batch_128": {**BASE, "batch_size": 128},
    "lr_3e-3": {**BASE, "lr": 3e-3},
    "images_20k": {**BASE, "train_images": 20_000, "epochs": 8},
    "images_45k": ALL_45K,
    "epochs_30": {**BASE, "epochs": 30},     # twice the budget: how far more training goes
    "images_45k_lr3e-3": {**ALL_45K, "lr": 3e-3},
    "images_45k_e10_cosine": {**ALL_45K, "epochs": 10, "lr_schedule": "cosine",
                              "lr_warmup_epochs": 1},                # over three times the budget
    # smaller views (T, then resized): cheaper steps, spent on more epochs
    "view_24_e5": {**ALL_45K, "view_size": 24, "epochs": 5},
    "view_20_e7": {**ALL_45K, "view_size": 20, "epochs": 7},
    "view_16_e8": {**ALL_45K, "view_size": 16, "epochs": 8},
    "view_16_e9": {**ALL_45K, "view_size": 16, "epochs": 9},
    "view_16_e10": {**ALL_45K, "view_size": 16, "epochs": 10},
    "view_16_e8_lr1e-3": {**ALL_45K, "view_size": 16, "epochs": 8, "lr": 1e-3},
    "view_16_e8_lr1.4e-3": {**ALL_45K, "view_size": 16, "epochs": 8, "lr": 1.4e-3},
    "view_16_e10_cosine": {**ALL_45K, "view_size": 16, "epochs": 10, "lr_schedule": "cosine",
                           "lr_warmup_epochs": 1},
    "view_16_e5_width_24": {**ALL_45K, "view_size": 16, "epochs": 5, "width": 24},
    # representations of the images resized nearer the views' scale (objects in a 16x16
    # view of a crop look about as large as in the whole image at 20-24 pixels)
    "view_16_e8_encode_24": {**ALL_45K, "view_size": 16, "epochs": 8, "encode_size": 24},
    "view_16_e8_encode_28": {**ALL_45K, "view_size": 16, "epochs": 8, "encode_size": 28},
    "view_16_e9_encode_24": {**ALL_45K, "view_size": 16, "epochs": 9, "encode_size": 24},
    "view_16_e10_encode_24": {**ALL_45K, "view_size": 16, "epochs": 10, "encode_size": 24},
    "view_16_e8_batch_128_lr1.4e-3_encode_24": {**ALL_45K, "view_size": 16, "epochs": 8,
                                                 "batch_size": 128, "lr": 1.4e-3,
                                                 "encode_size": 24},
}


def validation_split(labels: np.ndarray, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held_out) indices: the last ``per_class`` images of each class held out."""
    held = np.concatenate([np.flatnonzero(labels == c)[-per_class:] for c in np.unique(labels)])
    held = np.sort(held)
    kept = np.setdiff1d(np.arange(len(labels)), held)
    return kept, held


def validation_data(d: PreparedData, per_class: int = VALIDATION_PER_CLASS) -> PreparedData:
    """The train images split in two: the rest as "train", the held-out ones as "test"."""
    kept, held = validation_split(d.train_y, per_class)
    return PreparedData(d.train_x[kept], d.train_y[kept], d.train_x[held], d.train_y[held],
                        d.mnist_x, d.mnist_y, d.classes, source=f"{d.source} (validation)",
                        verified=d.verified)


def candidate_profile(changes: dict, seed: int = 0) -> Profile:
    held_out = VALIDATION_PER_CLASS * 10
    return QUICK.replace(name="quick-search", seed=seed, test_images=held_out,
                         test_loss_images=2_000, **changes)


def probe_accuracy(encoder: torch.nn.Module, p: Profile, d: PreparedData,
                   device: torch.device) -> dict[str, float]:
    """The study's probe on ``encoder``, fitted on its train images (encoded as the study
    encodes them) and scored on held-out ones, at each of PROBE_L2_TRIED and the
    profile's own ``probe_l2``."""
    idx = balanced_subset(d.train_y, p.train_images)
    train, held = (encode(encoder, x, device, cpu_bf16=p.cpu_bf16, size=p.encode_size)
                   for x in (d.train_x[idx], d.test_x))
    return {str(l2): fit_linear_probe(train, d.train_y[idx], held, d.test_y, l2)["test_acc"]
            for l2 in sorted({*PROBE_L2_TRIED, p.probe_l2})}


def evaluate(name: str, changes: dict, d: PreparedData, device: torch.device,
             show_progress: bool) -> dict:
    """Train Q1 with ``changes``; its validation accuracy and the untrained control's."""
    p = candidate_profile(changes)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        _, model = train_vicreg(p, d, Path(tmp) / "q1.pt", device, name=name,
                                show_progress=show_progress)
    minutes = (time.perf_counter() - started) / 60
    trained, untrained = (probe_accuracy(net.encoder, p, d, device)
                          for net in (model, build_model(p)))
    return {"settings": changes, "train_minutes": round(minutes, 2), "probe": METHOD,
            "validation_acc": trained[str(p.probe_l2)],
            "untrained_validation_acc": untrained[str(p.probe_l2)],
            "validation_acc_by_l2": trained, "untrained_validation_acc_by_l2": untrained}


def with_earlier_probe(row: dict, earlier: dict) -> dict:
    """``row``, keeping what another probe gave the same candidate before
    (``earlier_probe``), from ``earlier`` (its row until now) or from that row's own."""
    if earlier and earlier.get("probe") != METHOD:
        return {**row, "earlier_probe": {k: earlier.get(k) for k in
                                         ("probe", "validation_acc", "untrained_validation_acc")}}
    if "earlier_probe" in earlier:
        return {**row, "earlier_probe": earlier["earlier_probe"]}
    return row


def load_table(path: Path) -> dict:
    if not path.is_file():
        return {"candidates": {}}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise VicregError(f"{path} is not valid JSON ({exc}); delete it to start the search "
                          "again.") from None


def show(table: dict) -> None:
    out = Table(title=f"quick-profile search (validation: last {VALIDATION_PER_CLASS} train "
                      "images of each class)")
    for column in ("candidate", "settings", "train min", "val acc", "untrained", "probe"):
        out.add_column(column, justify="left" if column in ("candidate", "settings") else "right")
    for name, row in table["candidates"].items():
        changed = {k: v for k, v in row["settings"].items() if BASE.get(k) != v}
        out.add_row(name, ", ".join(f"{k}={v}" for k, v in changed.items()) or "(base)",
                    f"{row['train_minutes']:.2f}", f"{row['validation_acc']:.2%}",
                    f"{row['untrained_validation_acc']:.2%}",
                    "this one" if row.get("probe") == METHOD else "earlier")
    console.print(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vicreg_report.search", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", choices=list(CANDIDATES), help="these candidates")
    ap.add_argument("--again", action="store_true", help="recompute candidates in the table")
    ap.add_argument("--data", metavar="PATH", help="data folder or zip, as for the study")
    ap.add_argument("--table", type=Path, default=TABLE, help=f"default: {TABLE}")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    try:
        torch.set_num_threads(2)
        device = select_device("cpu")
        table = load_table(args.table)
        table.update(validation_per_class=VALIDATION_PER_CLASS, base=BASE,
                     minutes_note="wall time of Q1's training; run nothing else beside it",
                     device=device_description(device), numerics=numerics(speed_for(device)),
                     commit=git_commit(), profile_fields=asdict(candidate_profile(BASE)))
        d = validation_data(prepare(args.data))
        for name in args.only or list(CANDIDATES):
            if name in table["candidates"] and not args.again:
                continue
            row = evaluate(name, CANDIDATES[name], d, device, not args.no_progress)
            rows = load_table(args.table)["candidates"]
            table["candidates"] = {**rows, name: with_earlier_probe(row, rows.get(name, {}))}
            atomic_write(args.table, json.dumps(table, indent=2) + "\n")
            show(table)
    except VicregError as exc:
        console.print(f"[red]{exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
