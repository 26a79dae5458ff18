"""Frozen encoders -> representations (test-time transform, large no-grad batches)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from .augment import test_transform
from .training import as_tensor, model_input, prepare_model, speed_for

# Images per forward pass. The CPU keeps 1024 so that its results stay exactly as
# they were; a GPU takes larger batches (ResNet-18 at 4096 images needs a few GiB).
BATCH_SIZE = {"cpu": 1024, "cuda": 4096}


@torch.no_grad()
def encode(encoder: torch.nn.Module, images: np.ndarray, device: torch.device,
           batch_size: int | None = None) -> np.ndarray:
    """Representations y = f(x) of uint8 (N, H, W, C) images, as float32 (N, D).

    The images go to the device once, as uint8, and the representations come
    back once, at the end. Always float32 (no bf16: neighbours and probes read
    these numbers), in channels_last on a GPU.
    """
    batch_size = batch_size or BATCH_SIZE.get(device.type, BATCH_SIZE["cpu"])
    speed = replace(speed_for(device), bf16=False)
    encoder = prepare_model(encoder, device, speed).eval()
    pixels = as_tensor(images, device)
    out = [encoder(model_input(test_transform(pixels[start:start + batch_size]), speed)).float()
           for start in range(0, len(pixels), batch_size)]
    return torch.cat(out).cpu().numpy()
