"""Results -> the one context dict that both language templates read."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

from .losses import TERM_NAMES
from .original import original
from .results import ProbeResult, TrainResult, git_commit


def _terms(history: dict[str, list[float]], index: int) -> dict[str, float]:
    return {k: history[k][index] for k in TERM_NAMES}


def build_context(run, data, trained: TrainResult, probes: dict[str, ProbeResult],
                  figures: dict, started: float) -> dict:
    p = run.profile
    prov = trained.provenance
    ref = original()
    q1 = probes["q1"]
    return {
        "meta": {
            "title_en": "VICReg on CIFAR-10: a reproducible study",
            "title_he": "VICReg על CIFAR-10: מחקר הניתן לשחזור",
            "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "commit": git_commit(), "profile": p.name,
        },
        "setup": {
            "data_source": data.source, "data_fingerprint": data.fingerprint[:16],
            "data_verified": data.verified,
            "profile": {
                "name": p.name, "arch": p.arch, "width": p.width,
                "train_images": trained.train_images, "test_images": q1.settings["test_images"],
                "epochs": p.epochs, "batch_size": p.batch_size, "lr": p.lr,
                "weight_decay": p.weight_decay, "lam": p.lam, "mu": p.mu, "nu": p.nu,
                "gamma": p.gamma, "eps": p.eps, "seed": p.seed, "config_hash": p.config_hash(),
            },
            "device": prov.device, "python": prov.python, "torch": prov.torch,
            "torchvision": prov.torchvision,
            "wall_time": {
                "train_s": prov.wall_time_s,
                "probe_s": sum(r.provenance.wall_time_s for r in probes.values()),
                "total_s": time.perf_counter() - started,
            },
        },
        "training": {
            "figure": os.path.relpath(figures["training_curves"], run.report_dir),
            "steps": len(trained.history.train["total"]),
            "epochs": len(trained.history.test["total"]),
            "first": _terms(trained.history.train, 0),
            "last": _terms(trained.history.train, -1),
            "test_first": _terms(trained.history.test, 0),
            "test_last": _terms(trained.history.test, -1),
        },
        "probe": {
            "trained": {"test_acc": q1.test_acc, "train_acc": q1.train_acc},
            "random_init": {"test_acc": probes["random_init"].test_acc,
                            "train_acc": probes["random_init"].train_acc},
            "original": {"test_acc": ref["reported"]["q3_probe_acc"]},
            "course_threshold": ref["course_threshold_probe_acc"],
            "settings": {k: q1.settings[k] for k in
                         ("epochs", "lr", "batch_size", "train_images", "test_images")},
        },
    }
