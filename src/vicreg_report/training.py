"""VICReg training: one flat loop, every loss term recorded per batch and per epoch.

On a CUDA GPU the loop runs faster (``Speed``): channels_last, a bf16 forward
pass (the loss itself in float32), fused Adam, and no wait for the GPU inside an
epoch (the loss terms stay on the device and are copied once per epoch). On the
CPU none of this applies and the arithmetic is exactly the plain float32 loop's.
"""

from __future__ import annotations

import io
import operator
import pickle
import time
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .augment import test_transform, to_device, two_views
from .config import Profile
from .data import PreparedData, balanced_subset
from .errors import VicregError
from .losses import TERM_NAMES, LossTerms, vicreg_loss
from .model import VICReg, build_model
from .progress import progress_bar
from .results import LossHistory, TrainResult, atomic_write, make_provenance

TEST_VIEW_SEED = 2024  # the test views are the same at every epoch


@dataclass(frozen=True)
class Speed:
    """Accelerator-only speed-ups; all off gives the plain float32 loop."""

    bf16: bool = False            # forward pass under bf16 autocast; the loss stays float32
    channels_last: bool = False   # NHWC model weights and inputs
    fused_adam: bool = False      # one fused kernel per optimizer step
    cudnn_benchmark: bool = False
    one_pass_views: bool = False  # augment both views as one batch (half the launches)


PLAIN = Speed()
CUDA_SPEED = Speed(bf16=True, channels_last=True, fused_adam=True, cudnn_benchmark=True,
                   one_pass_views=True)


def speed_for(device: torch.device) -> Speed:
    """CUDA_SPEED on a CUDA GPU; on any other device the plain loop (CPU results unchanged)."""
    return CUDA_SPEED if device.type == "cuda" else PLAIN


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


def augmented_pairs(images: torch.Tensor, speed: Speed = PLAIN) -> Pairs:
    """Q1/Q4: two independent augmentations of each image."""
    return lambda idx, g: two_views(images[idx], g, speed.one_pass_views)


def neighbour_pairs(images: torch.Tensor, neighbours: torch.Tensor) -> Pairs:
    """Q5: each image and one of its nearest neighbours, drawn anew every step; no augmentation."""
    neighbours = neighbours.to(images.device)

    def pairs(idx: torch.Tensor, g: torch.Generator):
        pick = to_device(torch.randint(neighbours.shape[1], (len(idx),), generator=g),
                         images.device)
        partner = neighbours[idx, pick]
        return test_transform(images[idx]), test_transform(images[partner])
    return pairs


def prepare_model(model: torch.nn.Module, device: torch.device,
                  speed: Speed = PLAIN) -> torch.nn.Module:
    """The model on ``device``, in the memory format ``speed`` asks for."""
    model = model.to(device)
    if speed.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if speed.cudnn_benchmark:
        torch.backends.cudnn.benchmark = True
    return model


def model_input(x: torch.Tensor, speed: Speed = PLAIN) -> torch.Tensor:
    """A batch of images in the memory format ``speed`` asks for."""
    return x.contiguous(memory_format=torch.channels_last) if speed.channels_last else x


def make_optimizer(model: VICReg, p: Profile, speed: Speed = PLAIN) -> torch.optim.Adam:
    extra = {"fused": True} if speed.fused_adam else {}
    return torch.optim.Adam(model.parameters(), lr=p.lr, betas=(p.beta1, p.beta2),
                            weight_decay=p.weight_decay, **extra)


def loss_terms(model: VICReg, x: torch.Tensor, y: torch.Tensor, p: Profile,
               speed: Speed = PLAIN) -> LossTerms:
    """The VICReg terms of one pair of batches: forward as ``speed`` says, loss in float32."""
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=speed.bf16):
        z, z_prime = model(model_input(x, speed)), model(model_input(y, speed))
    return vicreg_loss(z.float(), z_prime.float(), p.lam, p.mu, p.nu, p.gamma, p.eps)


def train_step(model: VICReg, optimizer: torch.optim.Optimizer, x: torch.Tensor,
               y: torch.Tensor, p: Profile, speed: Speed = PLAIN) -> LossTerms:
    """One optimisation step on a pair of view batches; nothing here waits for the GPU."""
    terms = loss_terms(model, x, y, p, speed)
    optimizer.zero_grad(set_to_none=True)
    terms.total.backward()
    optimizer.step()
    return terms


class TermLog:
    """Loss terms of many steps, kept where they were computed and copied out once."""

    def __init__(self) -> None:
        self._rows: list[torch.Tensor] = []

    def add(self, terms: LossTerms) -> None:
        self._rows.append(torch.stack([getattr(terms, k).detach() for k in TERM_NAMES]))

    def columns(self) -> dict[str, list[float]]:
        """Each term's values in step order, as Python floats (one device-to-host copy)."""
        table = torch.stack(self._rows).tolist() if self._rows else []
        return {k: [row[i] for row in table] for i, k in enumerate(TERM_NAMES)}


@torch.no_grad()
def test_loss(model: VICReg, images: torch.Tensor, p: Profile,
              speed: Speed = PLAIN) -> dict[str, float]:
    """Mean of each term over the test images, two views from a fixed generator."""
    model.eval()
    g = torch.Generator().manual_seed(TEST_VIEW_SEED)
    log = TermLog()
    for start in range(0, len(images) - p.batch_size + 1, p.batch_size):
        x, y = two_views(images[start:start + p.batch_size], g, speed.one_pass_views)
        log.add(loss_terms(model, x, y, p, speed))
    model.train()
    # Left-to-right double additions: ``sum()`` compensates rounding since Python 3.12,
    # which would change the saved test losses in their last digits.
    return {k: reduce(operator.add, values, 0.0) / max(len(values), 1)
            for k, values in log.columns().items()}


def train_vicreg(p: Profile, data: PreparedData, checkpoint: Path, device: torch.device,
                 name: str = "q1", show_progress: bool = True, epochs: int | None = None,
                 neighbours: torch.Tensor | None = None,
                 speed: Speed | None = None) -> tuple[TrainResult, VICReg]:
    """Train encoder and projector from scratch; save the final checkpoint.

    Pairs are two augmentations of an image, or, given ``neighbours`` (row i:
    indices of image i's nearest train images), the image and one neighbour.
    The test loss always uses two augmented views of the test images.
    ``speed``: default ``speed_for(device)``.
    """
    started = time.perf_counter()
    speed = speed_for(device) if speed is None else speed
    epochs = p.epochs if epochs is None else epochs
    train_idx = balanced_subset(data.train_y, p.train_images)
    test_idx = balanced_subset(data.test_y, min(p.test_loss_images, p.test_images))
    train_images = as_tensor(data.train_x[train_idx], device)
    test_images = as_tensor(data.test_x[test_idx], device)
    if len(train_images) < p.batch_size or len(test_images) < p.batch_size:
        raise VicregError(f"Profile {p.name!r} needs at least one full batch of {p.batch_size} "
                          "train and test images; lower batch_size or use more images.")

    pairs = (augmented_pairs(train_images, speed) if neighbours is None
             else neighbour_pairs(train_images, neighbours))
    model = prepare_model(build_model(p), device, speed)
    optimizer = make_optimizer(model, p, speed)
    shuffle = torch.Generator().manual_seed(p.seed)
    views = torch.Generator().manual_seed(p.seed + 1)
    steps_per_epoch = len(train_images) // p.batch_size
    train_hist = {k: [] for k in TERM_NAMES}
    test_hist = {k: [] for k in TERM_NAMES}

    with progress_bar(show_progress) as bar:
        task = bar.add_task(f"train {name}", total=epochs * steps_per_epoch, status="")
        for epoch in range(epochs):
            order = to_device(torch.randperm(len(train_images), generator=shuffle), device)
            log = TermLog()
            for step in range(steps_per_epoch):
                x, y = pairs(order[step * p.batch_size:(step + 1) * p.batch_size], views)
                log.add(train_step(model, optimizer, x, y, p, speed))
                bar.update(task, advance=1, status=f"epoch {epoch + 1}/{epochs}")
            for k, values in log.columns().items():
                train_hist[k].extend(values)
            for k, v in test_loss(model, test_images, p, speed).items():
                test_hist[k].append(v)
            bar.update(task, status=f"epoch {epoch + 1}/{epochs} loss "
                                    f"{train_hist['total'][-1]:.3f}")
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
