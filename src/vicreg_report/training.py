"""VICReg training: one flat loop, every loss term recorded per batch and per epoch."""

from __future__ import annotations

import io
import pickle
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .augment import test_transform, two_views
from .config import Profile
from .data import PreparedData, balanced_subset
from .errors import VicregError
from .losses import TERM_NAMES, vicreg_loss
from .model import VICReg, build_model
from .progress import progress_bar
from .results import LossHistory, TrainResult, atomic_write, make_provenance

TEST_VIEW_SEED = 2024  # the test views are the same at every epoch


def select_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise VicregError("--device cuda was asked for, but torch sees no CUDA GPU. "
                          "Use --device cpu, or install a CUDA build of torch.")
    return torch.device(name)


def as_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (N, H, W, C) -> uint8 (N, C, H, W) on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous().to(device)


Pairs = Callable[[torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


def augmented_pairs(images: torch.Tensor) -> Pairs:
    """Q1/Q4: two independent augmentations of each image."""
    return lambda idx, g: two_views(images[idx], g)


def neighbour_pairs(images: torch.Tensor, neighbours: torch.Tensor) -> Pairs:
    """Q5: each image and one of its nearest neighbours, drawn anew every step; no augmentation."""
    neighbours = neighbours.to(images.device)

    def pairs(idx: torch.Tensor, g: torch.Generator):
        pick = torch.randint(neighbours.shape[1], (len(idx),), generator=g).to(images.device)
        partner = neighbours[idx, pick]
        return test_transform(images[idx]), test_transform(images[partner])
    return pairs


def loss_terms(model: VICReg, x: torch.Tensor, y: torch.Tensor, p: Profile):
    return vicreg_loss(model(x), model(y), p.lam, p.mu, p.nu, p.gamma, p.eps)


@torch.no_grad()
def test_loss(model: VICReg, images: torch.Tensor, p: Profile) -> dict[str, float]:
    """Mean of each term over the test images, two views from a fixed generator."""
    model.eval()
    g = torch.Generator().manual_seed(TEST_VIEW_SEED)
    sums = dict.fromkeys(TERM_NAMES, 0.0)
    batches = 0
    for start in range(0, len(images) - p.batch_size + 1, p.batch_size):
        x, y = two_views(images[start:start + p.batch_size], g)
        for k, v in loss_terms(model, x, y, p).as_floats().items():
            sums[k] += v
        batches += 1
    model.train()
    return {k: v / max(batches, 1) for k, v in sums.items()}


def train_vicreg(p: Profile, data: PreparedData, checkpoint: Path, device: torch.device,
                 name: str = "q1", show_progress: bool = True, epochs: int | None = None,
                 neighbours: torch.Tensor | None = None) -> tuple[TrainResult, VICReg]:
    """Train encoder and projector from scratch; save the final checkpoint.

    Pairs are two augmentations of an image, or, given ``neighbours`` (row i:
    indices of image i's nearest train images), the image and one neighbour.
    The test loss always uses two augmented views of the test images.
    """
    started = time.perf_counter()
    epochs = p.epochs if epochs is None else epochs
    train_idx = balanced_subset(data.train_y, p.train_images)
    test_idx = balanced_subset(data.test_y, min(p.test_loss_images, p.test_images))
    train_images = as_tensor(data.train_x[train_idx], device)
    test_images = as_tensor(data.test_x[test_idx], device)
    pairs = (augmented_pairs(train_images) if neighbours is None
             else neighbour_pairs(train_images, neighbours))
    if len(train_images) < p.batch_size or len(test_images) < p.batch_size:
        raise VicregError(f"Profile {p.name!r} needs at least one full batch of {p.batch_size} "
                          "train and test images; lower batch_size or use more images.")

    model = build_model(p).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=p.lr, betas=(p.beta1, p.beta2),
                                 weight_decay=p.weight_decay)
    shuffle = torch.Generator().manual_seed(p.seed)
    views = torch.Generator().manual_seed(p.seed + 1)
    steps_per_epoch = len(train_images) // p.batch_size
    train_hist = {k: [] for k in TERM_NAMES}
    test_hist = {k: [] for k in TERM_NAMES}

    with progress_bar(show_progress) as bar:
        task = bar.add_task(f"train {name}", total=epochs * steps_per_epoch, status="")
        for epoch in range(epochs):
            order = torch.randperm(len(train_images), generator=shuffle).to(device)
            for step in range(steps_per_epoch):
                x, y = pairs(order[step * p.batch_size:(step + 1) * p.batch_size], views)
                terms = loss_terms(model, x, y, p)
                optimizer.zero_grad(set_to_none=True)
                terms.total.backward()
                optimizer.step()
                for k, v in terms.as_floats().items():
                    train_hist[k].append(v)
                bar.update(task, advance=1, status=f"epoch {epoch + 1}/{epochs} "
                                                    f"loss {train_hist['total'][-1]:.3f}")
            for k, v in test_loss(model, test_images, p).items():
                test_hist[k].append(v)
            if not np.isfinite(train_hist["total"][-1]):
                raise VicregError(f"Training diverged (loss is {train_hist['total'][-1]}) in "
                                  f"epoch {epoch + 1}; lower the learning rate.")

    save_checkpoint(model, p, checkpoint)
    result = TrainResult(
        model=name, history=LossHistory(train_hist, test_hist, steps_per_epoch),
        checkpoint=checkpoint.name, train_images=len(train_images),
        provenance=make_provenance(p, data, device, started))
    return result, model


def save_checkpoint(model: VICReg, p: Profile, path: Path) -> None:
    buf = io.BytesIO()
    torch.save({"state_dict": model.state_dict(), "config_hash": p.config_hash()}, buf)
    atomic_write(path, buf.getvalue())


def load_checkpoint(p: Profile, path: Path, device: torch.device) -> VICReg:
    """Rebuild the model of ``p`` from ``path`` (weights only, never pickled code)."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        model = build_model(p).to(device)
        model.load_state_dict(state["state_dict"])
    except (OSError, RuntimeError, KeyError, EOFError, pickle.UnpicklingError) as exc:
        raise VicregError(f"Checkpoint {path} is unreadable or belongs to another "
                          f"configuration ({type(exc).__name__}). Delete it and train again.") from None
    if state.get("config_hash") != p.config_hash():
        raise VicregError(f"Checkpoint {path} was trained with another configuration. "
                          "Delete it and train again.")
    return model
