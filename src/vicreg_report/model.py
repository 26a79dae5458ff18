"""Encoder f (image -> y in R^D) and projector h (y -> z in R^d)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchvision.models import resnet18

from .config import Profile


def _head(features: int, embed_dim: int) -> nn.Sequential:
    """The study's head after pooling: Linear(512), BN, ReLU, Linear(D)."""
    return nn.Sequential(
        nn.Linear(features, 512),
        nn.BatchNorm1d(512),
        nn.ReLU(inplace=True),
        nn.Linear(512, embed_dim),
    )


def resnet18_encoder(embed_dim: int = 128) -> nn.Module:
    """torchvision ResNet-18 with a 3x3 stride-1 stem (padding 0, bias), no max-pool."""
    net = resnet18(weights=None)
    net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=0, bias=True)
    net.maxpool = nn.Identity()
    net.fc = _head(512, embed_dim)
    return net


def cnn_encoder(width: int = 32, embed_dim: int = 128) -> nn.Module:
    """A 4-layer CNN with the same head, for CPU profiles."""

    def block(c_in: int, c_out: int, pool: bool) -> list[nn.Module]:
        layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                  nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
        return layers + [nn.MaxPool2d(2)] if pool else layers

    w = width
    return nn.Sequential(
        *block(3, w, pool=False),
        *block(w, 2 * w, pool=True),
        *block(2 * w, 4 * w, pool=True),
        *block(4 * w, 8 * w, pool=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        _head(8 * w, embed_dim),
    )


def projector(embed_dim: int = 128, proj_dim: int = 512) -> nn.Sequential:
    """Linear(D, 512), BN, ReLU, Linear(512, 512), BN, ReLU, Linear(512, d)."""
    return nn.Sequential(
        nn.Linear(embed_dim, 512),
        nn.BatchNorm1d(512),
        nn.ReLU(inplace=True),
        nn.Linear(512, 512),
        nn.BatchNorm1d(512),
        nn.ReLU(inplace=True),
        nn.Linear(512, proj_dim),
    )


class VICReg(nn.Module):
    """Encoder and projector; ``forward`` maps each batch of views to its projections.

    ``bf16``: the encoder under bf16 autocast, the projector in float32 (its output, and
    the loss, are then never bf16). Both views go through one ``forward``, as
    DistributedDataParallel expects one forward per backward pass.
    """

    def __init__(self, profile: Profile):
        super().__init__()
        if profile.arch == "resnet18":
            self.encoder = resnet18_encoder(profile.embed_dim)
        else:
            self.encoder = cnn_encoder(profile.width, profile.embed_dim)
        self.projector = projector(profile.embed_dim, profile.proj_dim)

    def forward(self, *views: Tensor, bf16: bool = False) -> tuple[Tensor, ...]:
        return tuple(self._project(x, bf16) for x in views)

    def _project(self, x: Tensor, bf16: bool) -> Tensor:
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            y = self.encoder(x)
        with torch.autocast(x.device.type, enabled=False):
            return self.projector(y.float() if bf16 else y)


def build_model(profile: Profile, seed: int | None = None) -> VICReg:
    """A freshly initialised model; seeded so that runs repeat."""
    torch.manual_seed(profile.seed if seed is None else seed)
    return VICReg(profile)
