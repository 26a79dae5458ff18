"""Profiles: one typed configuration for the whole study (smoke, quick, full)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from .errors import VicregError


@dataclass(frozen=True)
class Profile:
    """Everything that determines a run. ``full`` is STUDY.md's exact setup."""

    name: str
    # data
    synthetic_data: bool = False      # smoke only: a small generated data set
    train_images: int = 50_000        # CIFAR-10 train images used (a class-balanced prefix)
    test_images: int = 10_000
    # encoder f and projector h
    arch: str = "resnet18"            # "resnet18" (the study's) or "cnn" (small, for CPU)
    width: int = 64                   # channels of the first stage
    embed_dim: int = 128              # D, the representation
    proj_dim: int = 512               # d, the projection
    view_size: int = 32               # training views resized to this side after T (the study: 32)
    encode_size: int = 32             # images resized to this side for the representations (32)
    # VICReg loss
    lam: float = 25.0
    mu: float = 25.0
    nu: float = 1.0
    gamma: float = 1.0
    eps: float = 1e-4
    # optimiser (Adam)
    epochs: int = 30
    batch_size: int = 256
    lr: float = 3e-4
    lr_schedule: str = "constant"     # or "cosine": linear warm-up, then cosine decay to 0
    lr_warmup_epochs: int = 0
    cpu_bf16: bool = True             # on a CPU with bf16 in hardware, train under bf16 autocast
    cpu_side_by_side: bool = True     # on a CPU with 2+ cores, Q1 and Q4 train at once,
                                      # half the cores each (pipeline.trains_side_by_side)
    beta1: float = 0.9
    beta2: float = 0.999
    weight_decay: float = 1e-6
    test_loss_images: int = 10_000    # test images for the per-epoch test loss
    # linear probe: logistic regression on whitened representations, fitted to convergence
    probe_l2: float = 1e-3            # its ridge penalty (chosen on validation, search.py)
    # experiments
    q5_epochs: int = 1                # the course recommends 1 epoch for Q5
    q5_neighbours: int = 3
    tsne_points: int = 10_000         # t-SNE on a class-balanced subset of this size
    laplacian_images: int = 10_000    # Q6 runs on this many train images
    laplacian_max_components: int = 128  # eigenvectors tried: 2, 4, ... up to this
    laplacian_neighbors: int = 10
    silhouette_sample: int = 10_000   # silhouette on a seeded sample (0 = every point)
    anomaly_k: int = 2
    anomaly_top: int = 7
    retrieval_k: int = 5
    clusters: int = 10
    seed: int = 0

    def config_hash(self) -> str:
        """Short hash of every field: same hash, same run."""
        blob = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def replace(self, **changes) -> "Profile":
        return dataclasses.replace(self, **changes)


FULL = Profile(name="full")

# quick: the whole study on 2 CPU cores in minutes, on real CIFAR-10.
# A 4-layer CNN of width 16 instead of ResNet-18, trained on the study's views resized
# to 16x16 (~0.1 s a step here in bf16, where ResNet-18 on 32x32 views takes ~6 s), 9
# epochs over all 50,000 train images and a larger learning rate, kept constant: chosen
# on a validation split of the train images (reference/quick.search.json,
# `python -m vicreg_report.search`; README "Profiles"). Representations are computed from
# the images resized to 24x24, where objects look about as large as in the 16x16 views of
# crops (1 point above 32x32 on validation). The probe is full's (on all 50,000 images).
QUICK = Profile(
    name="quick",
    arch="cnn",
    width=16,
    view_size=16,
    encode_size=24,
    epochs=9,
    batch_size=256,
    lr=2e-3,
    test_loss_images=2_000,
    tsne_points=4_000,                # t-SNE and Q6 on 4,000 points (the study: 10,000) keep
    laplacian_images=4_000,           # the whole quick run under 10 minutes here
)

# smoke: seconds, for tests; generated images, tiny model.
SMOKE = Profile(
    name="smoke",
    synthetic_data=True,
    train_images=256,
    test_images=128,
    arch="cnn",
    width=8,
    embed_dim=16,
    proj_dim=32,
    epochs=2,
    batch_size=64,
    lr=1e-3,
    test_loss_images=128,
    tsne_points=128,
    laplacian_images=200,
    laplacian_max_components=16,
    silhouette_sample=0,
    cpu_bf16=False,                   # float32: the tests' numbers are the same on every CPU
    cpu_side_by_side=False,           # one process: tests can watch and interrupt training
)

PROFILES = {p.name: p for p in (SMOKE, QUICK, FULL)}

# CIFAR-10's classes in two groups, for "vehicles separate better than animals" (Q2, Q7).
VEHICLES = ("airplane", "automobile", "ship", "truck")
ANIMALS = ("bird", "cat", "deer", "dog", "frog", "horse")
CLASS_GROUPS = {"vehicles": VEHICLES, "animals": ANIMALS}

# The study's encoders: Q1 (VICReg), Q4 (without the variance term), Q5 (pairs of
# neighbours), and Q1's untrained initial weights as the control.
TRAINED = ("q1", "q4", "q5")
ENCODERS = (*TRAINED, "random_init")


def encoder_profile(p: Profile, encoder: str) -> Profile:
    """Q4 is Q1 without the variance term; every other encoder shares Q1's configuration."""
    return p.replace(mu=0.0) if encoder == "q4" else p
DEFAULT_PROFILE = "quick"


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise VicregError(
            f"Unknown profile {name!r}. Choose one of: {', '.join(PROFILES)}."
        ) from None
