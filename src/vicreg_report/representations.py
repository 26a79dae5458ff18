"""Frozen encoders -> representations (test-time transform, large no-grad batches)."""

from __future__ import annotations

import numpy as np
import torch

from .augment import test_transform
from .training import as_tensor


@torch.no_grad()
def encode(encoder: torch.nn.Module, images: np.ndarray, device: torch.device,
           batch_size: int = 1024) -> np.ndarray:
    """Representations y = f(x) of uint8 (N, H, W, C) images, as float32 (N, D)."""
    encoder.eval()
    out = []
    for start in range(0, len(images), batch_size):
        x = test_transform(as_tensor(images[start:start + batch_size], device))
        out.append(encoder(x).float().cpu())
    return torch.cat(out).numpy()
