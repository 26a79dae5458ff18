"""VICReg training: one flat loop, every loss term recorded per batch and per epoch.

On a CUDA GPU the loop runs faster (``Speed``): channels_last, the backbone
under bf16 autocast (projector and loss in float32, so that small loss values
such as Q4's are not bf16 rounding), fused Adam, and no wait for the GPU inside
an epoch (the loss terms stay on the device and are copied once per epoch). On
the CPU none of this applies and the arithmetic is exactly the plain float32 loop's.

Training can stop at any moment (Ctrl-C, SIGTERM, SIGKILL, a slot's time limit):
after every epoch it saves everything it needs to continue, atomically, beside
the checkpoint (``<encoder>.resume.pt``: model, projector, optimiser, both random
generators, the loss history so far, keyed by the stage key). Started again, it
continues after the last finished epoch, and on a CPU ends bit-identical to an
uninterrupted run. The pipeline removes the file once the stage's result is saved.
A loss that is NaN or infinite stops training with the epoch, step and term, the
last good epoch kept for a rerun with other settings.

The per-epoch test loss is computed in evaluation mode (BatchNorm uses the
running statistics gathered in training) on batches of test images in one fixed,
seeded random order: the prepared test set is ordered by class, and the variance
and covariance terms are batch statistics, which a one-class batch would bias.
"""

from __future__ import annotations

import io
import math
import operator
import pickle
import time
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .augment import shown_at, test_transform, to_device, two_views
from .config import Profile
from .data import PreparedData, balanced_subset
from .distributed import gather_batch, is_writer, local_part, synchronise, unwrapped
from .errors import VicregError
from .losses import TERM_NAMES, LossTerms, vicreg_loss
from .model import VICReg, build_model
from .progress import console, progress_bar
from .results import LossHistory, TrainResult, atomic_write, make_provenance

RESUME_VERSION = 1
TEST_VIEW_SEED = 2024  # the test views are the same at every epoch
TEST_ORDER_SEED = 2025  # and so are the test batches, each a seeded random mix of classes


@dataclass(frozen=True)
class Speed:
    """Accelerator-only speed-ups; all off gives the plain float32 loop."""

    bf16: bool = False            # backbone under bf16 autocast; projector and loss float32
    channels_last: bool = False   # NHWC model weights and inputs
    fused_adam: bool = False      # one fused kernel per optimizer step
    cudnn_benchmark: bool = False
    one_pass_views: bool = False  # augment both views as one batch (half the launches)


PLAIN = Speed()
CUDA_SPEED = Speed(bf16=True, channels_last=True, fused_adam=True, cudnn_benchmark=True,
                   one_pass_views=True)


# On a CPU that computes bf16 natively (AVX-512 BF16 or AMX): the encoder under bf16
# autocast in channels_last, measured by `nox -s bench` (see README, Profiles).
CPU_BF16 = Speed(bf16=True, channels_last=True)
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU has bf16 arithmetic in hardware, from /proc/cpuinfo's flags."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines()
                  if line.startswith("flags")), [])
    return any(flag in flags for flag in CPU_BF16_FLAGS)


def speed_for(device: torch.device, cpu_bf16: bool = True) -> Speed:
    """CUDA_SPEED on a CUDA GPU; CPU_BF16 on a CPU with bf16 in hardware (unless
    ``cpu_bf16`` is False); else the plain float32 loop (README, Profiles, says how the
    numbers of a CPU without bf16 compare)."""
    if device.type == "cuda":
        return CUDA_SPEED
    return CPU_BF16 if cpu_bf16 and device.type == "cpu" and native_bf16() else PLAIN


def numerics(speed: Speed) -> str:
    """How training computed, for the provenance of its results."""
    parts = ["encoder bf16 autocast, projector and loss float32" if speed.bf16 else "float32"]
    parts += [name.replace("_", " ") for name in ("channels_last", "fused_adam")
              if getattr(speed, name)]
    return ", ".join(parts)


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


def augmented_pairs(images: torch.Tensor, speed: Speed = PLAIN,
                    part: slice = slice(None), size: int | None = None) -> Pairs:
    """Q1/Q4: two independent augmentations of each image, resized to ``size`` pixels a
    side if given. ``idx`` is the global batch; this process makes the views of its
    ``part`` of it, with the parameters drawn for the whole batch (the same draws as in one
    process)."""
    return lambda idx, g: two_views(images[idx], g, speed.one_pass_views, part, size)


def neighbour_pairs(images: torch.Tensor, neighbours: torch.Tensor,
                    part: slice = slice(None), size: int | None = None) -> Pairs:
    """Q5: each image and one of its nearest neighbours, drawn anew every step; no
    augmentation (resized to ``size`` pixels a side, as the other trainings' views).
    ``part`` as for ``augmented_pairs``."""
    neighbours = neighbours.to(images.device)

    def pairs(idx: torch.Tensor, g: torch.Generator):
        pick = to_device(torch.randint(neighbours.shape[1], (len(idx),), generator=g),
                         images.device)
        partner = neighbours[idx, pick]
        return (shown_at(test_transform(images[idx[part]]), size),
                shown_at(test_transform(images[partner[part]]), size))
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


def learning_rate(p: Profile, step: int, total: int, steps_per_epoch: int) -> float:
    """The learning rate at ``step`` of ``total``: ``p.lr`` ("constant"), or a linear
    warm-up over ``p.lr_warmup_epochs`` then a cosine decay to zero ("cosine")."""
    if p.lr_schedule == "constant":
        return p.lr
    warmup = p.lr_warmup_epochs * steps_per_epoch
    if step < warmup:
        return p.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return p.lr * 0.5 * (1 + math.cos(math.pi * progress))


def project(model: VICReg, x: torch.Tensor, speed: Speed = PLAIN) -> torch.Tensor:
    """z = h(f(x)): the encoder f under bf16 autocast if ``speed`` says so, the projector
    h in float32 (autocast off), so z is float32 either way."""
    return model(model_input(x, speed), bf16=speed.bf16)[0]


def loss_terms(model: VICReg, x: torch.Tensor, y: torch.Tensor, p: Profile,
               speed: Speed = PLAIN) -> LossTerms:
    """The VICReg terms of one pair of batches, in float32, over the global batch (the
    projections of every process; with one process, this one's)."""
    z, z_prime = model(model_input(x, speed), model_input(y, speed), bf16=speed.bf16)
    return vicreg_loss(gather_batch(z), gather_batch(z_prime), p.lam, p.mu, p.nu, p.gamma,
                       p.eps)


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


def test_batches(n: int, batch_size: int) -> list[torch.Tensor]:
    """Indices of the full test batches: one fixed seeded permutation of ``n`` images, cut
    into batches of ``batch_size`` (the remainder left out), the same at every epoch."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(TEST_ORDER_SEED))
    return [order[start:start + batch_size] for start in range(0, n - batch_size + 1, batch_size)]


@torch.no_grad()
def test_loss(model: VICReg, images: torch.Tensor, p: Profile,
              speed: Speed = PLAIN) -> dict[str, list[float]]:
    """Each term on every test batch (two views from a fixed generator), in batch order;
    the model in evaluation mode."""
    model.eval()
    g = torch.Generator().manual_seed(TEST_VIEW_SEED)
    log = TermLog()
    for batch in test_batches(len(images), p.batch_size):
        x, y = two_views(images[to_device(batch, images.device)], g, speed.one_pass_views,
                         size=p.view_size)
        log.add(loss_terms(model, x, y, p, speed))
    model.train()
    return log.columns()


def mean(values: list[float]) -> float:
    """Left-to-right double additions: ``sum()`` compensates rounding since Python 3.12,
    which would change the saved losses in their last digits from one Python to another."""
    return reduce(operator.add, values, 0.0) / max(len(values), 1)


def resume_path(checkpoint: Path) -> Path:
    """Where training saves its state after each epoch: ``<encoder>.resume.pt``."""
    return checkpoint.with_name(f"{checkpoint.stem}.resume.pt")


def save_state(path: Path, key: str, epochs_done: int, model: VICReg, optimizer, shuffle,
               views, history: dict, seconds: float) -> None:
    buf = io.BytesIO()
    torch.save({"version": RESUME_VERSION, "key": key, "epochs_done": epochs_done,
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "shuffle": shuffle.get_state(), "views": views.get_state(),
                "history": history, "seconds": seconds}, buf)
    atomic_write(path, buf.getvalue())


def load_state(path: Path, key: str, device: torch.device) -> dict | None:
    """The saved state of this very training (same stage key), or None: no file, an
    unreadable one, or another computation's (each said)."""
    if not key or not path.is_file():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:
        console.print(f"[yellow]{path.name} is unreadable ({type(exc).__name__}); "
                      "training starts over")
        return None
    if not isinstance(state, dict) or state.get("version") != RESUME_VERSION \
            or state.get("key") != key:
        console.print(f"[yellow]{path.name} belongs to another configuration; training "
                      "starts over")
        return None
    return state


def first_non_finite(columns: dict[str, list[float]]) -> tuple[int, str, float] | None:
    """(step, term, value) of the first loss value that is NaN or infinite, if any."""
    for step in range(len(columns["total"])):
        for term in TERM_NAMES:
            if not np.isfinite(columns[term][step]):
                return step, term, columns[term][step]
    return None


def train_vicreg(p: Profile, data: PreparedData, checkpoint: Path, device: torch.device,
                 name: str = "q1", show_progress: bool = True, epochs: int | None = None,
                 neighbours: torch.Tensor | None = None,
                 speed: Speed | None = None, key: str = "") -> tuple[TrainResult, VICReg]:
    """Train encoder and projector from scratch; save the final checkpoint.

    Pairs are two augmentations of an image, or, given ``neighbours`` (row i:
    indices of image i's nearest train images), the image and one neighbour.
    The test loss always uses two augmented views of the test images.
    ``speed``: default ``speed_for(device, p.cpu_bf16)``. ``key``: the stage key; with one, the
    state is saved after every epoch and a saved state of the same key is resumed.
    """
    started = time.perf_counter()
    speed = speed_for(device, p.cpu_bf16) if speed is None else speed
    epochs = p.epochs if epochs is None else epochs
    train_idx = balanced_subset(data.train_y, p.train_images)
    test_idx = balanced_subset(data.test_y, min(p.test_loss_images, p.test_images))
    train_images = as_tensor(data.train_x[train_idx], device)
    test_images = as_tensor(data.test_x[test_idx], device)
    if len(train_images) < p.batch_size or len(test_images) < p.batch_size:
        raise VicregError(f"Profile {p.name!r} needs at least one full batch of {p.batch_size} "
                          "train and test images; lower batch_size or use more images.")

    part = local_part(p.batch_size)           # this process's share of each global batch
    pairs = (augmented_pairs(train_images, speed, part, p.view_size) if neighbours is None
             else neighbour_pairs(train_images, neighbours, part, p.view_size))
    model = synchronise(prepare_model(build_model(p), device, speed), device)
    optimizer = make_optimizer(model, p, speed)
    shuffle = torch.Generator().manual_seed(p.seed)
    views = torch.Generator().manual_seed(p.seed + 1)
    steps_per_epoch = len(train_images) // p.batch_size
    history = {part: {k: [] for k in TERM_NAMES}
               for part in ("train", "train_epochs", "test", "test_batches")}
    resume = resume_path(checkpoint)
    state = load_state(resume, key, device)
    done, earlier = 0, 0.0
    if state is not None:
        unwrapped(model).load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        shuffle.set_state(state["shuffle"])
        views.set_state(state["views"])
        history, done, earlier = state["history"], state["epochs_done"], state["seconds"]
        console.print(f"train {name}: resuming after epoch {done} of {epochs} "
                      f"(saved in {resume.name})")

    def kept_state(epoch: int) -> str:
        return (f"the state after epoch {epoch} is kept in {resume}" if epoch and key
                else "no earlier epoch was kept")

    with progress_bar(show_progress and is_writer()) as bar:
        task = bar.add_task(f"train {name}", total=epochs * steps_per_epoch,
                            completed=done * steps_per_epoch, status="")
        for epoch in range(done, epochs):
            order = to_device(torch.randperm(len(train_images), generator=shuffle), device)
            log = TermLog()
            for step in range(steps_per_epoch):
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(p, epoch * steps_per_epoch + step,
                                                epochs * steps_per_epoch, steps_per_epoch)
                x, y = pairs(order[step * p.batch_size:(step + 1) * p.batch_size], views)
                log.add(train_step(model, optimizer, x, y, p, speed))
                bar.update(task, advance=1, status=f"epoch {epoch + 1}/{epochs}")
            columns = log.columns()
            bad = first_non_finite(columns)
            if bad is not None:
                raise VicregError(
                    f"Training {name} diverged: the {bad[1]} loss term is {bad[2]} at epoch "
                    f"{epoch + 1}, step {bad[0] + 1} of {steps_per_epoch}; {kept_state(epoch)}. "
                    f"Lower the learning rate (now {p.lr:g}) or check the data, then run again.")
            tested = test_loss(unwrapped(model), test_images, p, speed)
            bad_test = first_non_finite(tested)
            if bad_test is not None:
                raise VicregError(
                    f"Training {name} diverged: the {bad_test[1]} loss term on the test set is "
                    f"{bad_test[2]} after epoch {epoch + 1} (test batch {bad_test[0] + 1}); "
                    f"{kept_state(epoch)}. Lower the learning rate (now {p.lr:g}) or check the "
                    "data, then run again.")
            for k, values in columns.items():
                history["train"][k].extend(values)
                history["train_epochs"][k].append(mean(values))
            for k, values in tested.items():
                history["test"][k].append(mean(values))
                history["test_batches"][k].append(values)
            bar.update(task, status=f"epoch {epoch + 1}/{epochs} loss "
                                    f"{history['train']['total'][-1]:.3f}")
            if key and is_writer():
                save_state(resume, key, epoch + 1, unwrapped(model), optimizer, shuffle, views,
                           history, earlier + time.perf_counter() - started)

    model = unwrapped(model)
    if is_writer():
        save_checkpoint(model, p, checkpoint)
    result = TrainResult(
        model=name, history=LossHistory(steps_per_epoch=steps_per_epoch, **history),
        checkpoint=checkpoint.name, train_images=len(train_images),
        provenance=make_provenance(p, data, device, started - earlier,
                                   numerics=numerics(speed)))
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
