"""Frozen encoders -> representations (test-time transform, large no-grad batches).

An encoder's representations of the profile's train and test images and of
MNIST are saved as ``reps.<encoder>.npz`` beside a small record,
``reps.<encoder>.json`` (its key, shapes and the arrays' sha256). The arrays
are read only when a stage needs them: rendering saved results does not, so a
results folder shipped without the (large) arrays still renders.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .augment import shown_at, test_transform
from .errors import VicregError
from .stages import load_arrays
from .training import as_tensor, model_input, prepare_model, speed_for

# Images per forward pass: 256 keeps a CPU's caches warm (2.7 s per 10,000 quick images
# on 2 cores against 4.8 s at 1024); a GPU takes larger batches (ResNet-18 at 4096
# images needs a few GiB).
BATCH_SIZE = {"cpu": 256, "cuda": 4096}
SPLITS = ("train", "test", "mnist")


@torch.no_grad()
def encode(encoder: torch.nn.Module, images: np.ndarray, device: torch.device,
           batch_size: int | None = None, cpu_bf16: bool = False,
           size: int | None = None) -> np.ndarray:
    """Representations y = f(x) of uint8 (N, H, W, C) images, as float32 (N, D).

    ``size``: the normalised images resized to this many pixels a side first (as the
    training views, antialiased bilinear); None keeps them as they are.

    The images go to the device once, as uint8, and the representations come back
    once, at the end, in channels_last. On a GPU always in float32. ``cpu_bf16``: on a
    CPU with bf16 in hardware, the encoder under bf16 autocast, as it was trained (the
    profile's ``cpu_bf16``; 2.4 times faster on 2 cores, values rounded to bf16's 8
    bits of mantissa before they become float32).
    """
    batch_size = batch_size or BATCH_SIZE.get(device.type, BATCH_SIZE["cpu"])
    speed = speed_for(device, cpu_bf16)
    speed = replace(speed, bf16=speed.bf16 and device.type == "cpu", channels_last=True)
    encoder = prepare_model(encoder, device, speed).eval()
    pixels = as_tensor(images, device)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=speed.bf16):
        out = [encoder(model_input(shown_at(test_transform(pixels[start:start + batch_size]),
                                            size), speed)).float()
               for start in range(0, len(pixels), batch_size)]
    return torch.cat(out).cpu().numpy()


@dataclass
class RepresentationsResult:
    """What ``reps.<encoder>.npz`` holds: rows per split, dimensions, the file's sha256."""

    encoder: str
    rows: dict[str, int]         # train, test, mnist
    dimensions: int
    arrays_file: str
    arrays_sha256: str


def describe(encoder: str, arrays: dict[str, np.ndarray], file_name: str,
             file_bytes: bytes) -> RepresentationsResult:
    return RepresentationsResult(
        encoder=encoder, rows={k: int(len(arrays[k])) for k in SPLITS},
        dimensions=int(arrays["train"].shape[1]), arrays_file=file_name,
        arrays_sha256=hashlib.sha256(file_bytes).hexdigest())


class Reps:
    """One encoder's representations (train, test, MNIST), read from disk on first use."""

    def __init__(self, key: str, path: Path, sha256: str | None = None,
                 arrays: dict[str, np.ndarray] | None = None):
        self.key, self.path, self.sha256 = key, Path(path), sha256
        self._arrays = arrays

    def arrays(self) -> dict[str, np.ndarray]:
        if self._arrays is None:
            self._arrays = self._read()
        return self._arrays

    def _read(self) -> dict[str, np.ndarray]:
        if not self.path.is_file():
            raise VicregError(
                f"The representations {self.path.name} are not in {self.path.parent} (results "
                "shipped without them, e.g. from a GPU run). Only saved results can be shown "
                "from this folder; compute the study here to recompute them.")
        if self.sha256 and hashlib.sha256(self.path.read_bytes()).hexdigest() != self.sha256:
            raise VicregError(f"{self.path} does not match the sha256 in its record; delete "
                              "both and run the study again.")
        return load_arrays(self.path)[0]

    @property
    def train(self) -> np.ndarray:
        return self.arrays()["train"]

    @property
    def test(self) -> np.ndarray:
        return self.arrays()["test"]

    @property
    def mnist(self) -> np.ndarray:
        return self.arrays()["mnist"]
