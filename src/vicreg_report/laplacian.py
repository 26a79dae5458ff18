"""Q6: Laplacian Eigenmaps (sklearn SpectralEmbedding, ARPACK) of train images, probed linearly.

Two inputs to the neighbourhood graph:

* ``raw_pixels``: the CIFAR-normalised pixels, flattened (3,072-D), Euclidean, as
  the original write-up did;
* ``random_cnn``: an untrained, seeded 4-layer linear CNN (4 x Conv2d, kernel 5,
  32 channels, no padding, no non-linearity; 32x32 -> 16x16x32 = 8,192 values)
  followed by a fixed seeded Gaussian projection to 1,024-D, as the course's later
  protocol asks.

The codes are probed with a seeded, stratified 90% / 10% split; the same seed
gives the same split, so the Q1 encoder's representations of the same images can
be probed on it for a fair comparison.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from scipy.sparse.csgraph import connected_components
from sklearn.manifold import SpectralEmbedding
from sklearn.model_selection import train_test_split

from .augment import MEAN, STD
from .errors import VicregError
from .probe import fit_linear_probe

VARIANTS = ("raw_pixels", "random_cnn")
CNN_LAYERS, CNN_CHANNELS, CNN_KERNEL = 4, 32, 5
PROJECTED_DIM = 1024
TEST_FRACTION = 0.1
# Measured on class-balanced CIFAR-10 train images, 2 cores, 32 components (embedding
# only; the kNN graph is ~5 s of it at 10k, the rest ARPACK's shift-invert):
#   10,000 images, 10 neighbours: 21 s raw pixels, 29 s random CNN (probe 28% / 28%)
#   10,000 images, 30 / 100 neighbours: 28-35 s, probe 28-30%
#   10,000 images, 1,000 neighbours (sklearn's default N / 10): 137 s / 180 s, probe 31%
#    5,000 images, 10 neighbours: 4.7 s / 3.8 s; 500 neighbours: 16 s / 18 s
# 10 components instead of 32 save little time (19 s / 25 s) and lose 3-5 probe points.
# So: 10 neighbours (fastest, same accuracy as denser graphs), 32 components.
DEFAULT_COMPONENTS = 32
DEFAULT_NEIGHBORS = 10


@dataclass
class LaplacianResult:
    """Linear probe of Laplacian-Eigenmap codes of ``n_images`` train images."""

    variant: str
    seed: int
    n_images: int
    feature_dim: int
    n_components: int
    n_neighbors: int
    eigen_solver: str
    affinity: str
    graph_components: int          # connected components of the kNN graph (1: connected)
    probe_train_acc: float
    probe_test_acc: float
    probe_per_class_test_acc: list[float]
    train_size: int
    test_size: int
    train_class_counts: list[int]
    test_class_counts: list[int]
    probe_settings: dict
    timings: dict[str, float]      # seconds: features, embedding, probe


# ---------------------------------------------------------------- features

def _check_images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise VicregError(f"Expected uint8 RGB images (N, H, W, 3), got {images.dtype} "
                          f"{images.shape}.")
    return images


def normalise(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, 3) -> float32, scaled to [0, 1] and normalised as CIFAR-10."""
    x = _check_images(images).astype(np.float32) / 255.0
    return (x - np.array(MEAN, np.float32)) / np.array(STD, np.float32)


def raw_pixel_features(images: np.ndarray) -> np.ndarray:
    """Normalised pixels, flattened: (N, H * W * 3) float32."""
    return normalise(images).reshape(len(images), -1)


def random_cnn(seed: int) -> torch.nn.Sequential:
    """Untrained 4 x Conv2d(kernel 5, 32 channels, no padding), no non-linearity; seeded."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers = [torch.nn.Conv2d(3 if i == 0 else CNN_CHANNELS, CNN_CHANNELS, CNN_KERNEL,
                                  padding=0) for i in range(CNN_LAYERS)]
    return torch.nn.Sequential(*layers).eval()


def random_projection(in_dim: int, seed: int, out_dim: int = PROJECTED_DIM) -> torch.Tensor:
    """Fixed Gaussian matrix (in_dim, out_dim), entries N(0, 1 / out_dim); seeded."""
    g = torch.Generator().manual_seed(seed + 1)
    return torch.randn(in_dim, out_dim, generator=g) / out_dim ** 0.5


def random_cnn_features(images: np.ndarray, seed: int = 0, batch_size: int = 500) -> np.ndarray:
    """Normalised images through the random CNN, flattened, projected: (N, 1024) float32.

    Bit-identical for the same seed and ``batch_size``; other batch sizes differ by
    float rounding only (~1e-6). 10,000 images take ~4 s on 2 cores.
    """
    images = _check_images(images)
    size = images.shape[1] - CNN_LAYERS * (CNN_KERNEL - 1)
    if size < 1 or images.shape[1] != images.shape[2]:
        raise VicregError(f"The random CNN needs square images of at least 17 pixels, got "
                          f"{images.shape[1:3]}.")
    net = random_cnn(seed)
    proj = random_projection(CNN_CHANNELS * size * size, seed)
    out = np.empty((len(images), PROJECTED_DIM), np.float32)
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = torch.from_numpy(normalise(images[start:start + batch_size])).permute(0, 3, 1, 2)
            out[start:start + len(x)] = (net(x.contiguous()).flatten(1) @ proj).numpy()
    return out


def features(images: np.ndarray, variant: str, seed: int = 0) -> np.ndarray:
    """The graph's input for ``variant``: raw pixels or random-CNN features."""
    if variant == "raw_pixels":
        return raw_pixel_features(images)
    if variant == "random_cnn":
        return random_cnn_features(images, seed)
    raise VicregError(f"Unknown Laplacian variant {variant!r}. Choose one of: "
                      f"{', '.join(VARIANTS)}.")


# ---------------------------------------------------------------- embedding

def _spectral(x: np.ndarray, n_components: int, n_neighbors: int,
              seed: int) -> tuple[np.ndarray, int]:
    """Codes and the number of connected components of the kNN graph."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or not np.isfinite(x).all():
        raise VicregError(f"Need finite (N, D) features, got shape {x.shape}.")
    if not 1 <= n_neighbors < len(x) or not 1 <= n_components < len(x) - 1:
        raise VicregError(f"{len(x)} points cannot give {n_components} components from a "
                          f"{n_neighbors}-neighbour graph; lower them or use more images.")
    model = SpectralEmbedding(n_components=n_components, affinity="nearest_neighbors",
                              n_neighbors=n_neighbors, eigen_solver="arpack",
                              random_state=seed, n_jobs=2)
    with warnings.catch_warnings():  # a disconnected graph is recorded, not warned about
        warnings.filterwarnings("ignore", message="Graph is not fully connected")
        codes = model.fit_transform(x).astype(np.float32)
    return codes, int(connected_components(model.affinity_matrix_, directed=False)[0])


def laplacian_eigenmaps(features: np.ndarray, n_components: int = DEFAULT_COMPONENTS,
                        n_neighbors: int = DEFAULT_NEIGHBORS, seed: int = 0) -> np.ndarray:
    """SpectralEmbedding (kNN graph, ARPACK) codes: (N, n_components) float32."""
    return _spectral(features, n_components, n_neighbors, seed)[0]


# ---------------------------------------------------------------- probe

def stratified_split(labels: np.ndarray, seed: int = 0,
                     test_fraction: float = TEST_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified (train, test) indices, each sorted; same seed, same split."""
    labels = np.asarray(labels)
    try:
        train, test = train_test_split(np.arange(len(labels)), test_size=test_fraction,
                                       stratify=labels, random_state=seed)
    except ValueError as exc:
        raise VicregError(f"Cannot split {len(labels)} labelled images stratified "
                          f"{1 - test_fraction:.0%} / {test_fraction:.0%}: {exc}") from None
    return np.sort(train), np.sort(test)


def stratified_probe(codes: np.ndarray, labels: np.ndarray, seed: int, epochs: int,
                     lr: float, batch_size: int, test_fraction: float = TEST_FRACTION) -> dict:
    """``fit_linear_probe`` on a stratified 90/10 split: accuracies, split sizes, class counts."""
    codes, labels = np.asarray(codes, dtype=np.float32), np.asarray(labels)
    if codes.ndim != 2 or len(codes) != len(labels):
        raise VicregError(f"Need (N, D) codes and N labels, got {codes.shape} and {labels.shape}.")
    train, test = stratified_split(labels, seed, test_fraction)
    fit = fit_linear_probe(codes[train], labels[train], codes[test], labels[test],
                           epochs, lr, batch_size, seed)
    n_classes = int(labels.max()) + 1
    return {**fit, "train_size": len(train), "test_size": len(test),
            "train_class_counts": np.bincount(labels[train], minlength=n_classes).tolist(),
            "test_class_counts": np.bincount(labels[test], minlength=n_classes).tolist(),
            "settings": {"seed": seed, "epochs": epochs, "lr": lr, "batch_size": batch_size,
                         "test_fraction": test_fraction}}


# ---------------------------------------------------------------- one variant

def run_variant(images: np.ndarray, labels: np.ndarray, variant: str,
                n_images: int | None = None, seed: int = 0,
                n_components: int = DEFAULT_COMPONENTS, n_neighbors: int = DEFAULT_NEIGHBORS,
                epochs: int = 50, lr: float = 1e-3,
                batch_size: int = 1024) -> tuple[LaplacianResult, np.ndarray]:
    """Features, Laplacian Eigenmaps and the stratified probe of the first ``n_images``.

    ``n_images`` None uses every image given; otherwise the first ``n_images``
    (pass a class-balanced selection, e.g. ``data.balanced_subset``). Returns the
    result and the codes (n_images, n_components).
    """
    labels = np.asarray(labels)
    if len(labels) != len(images):
        raise VicregError(f"{len(images)} images but {len(labels)} labels.")
    n = len(images) if n_images is None else n_images
    if not 0 < n <= len(images):
        raise VicregError(f"Asked for {n} images for Laplacian Eigenmaps; {len(images)} given.")
    images, labels = images[:n], labels[:n]
    times: dict[str, float] = {}
    start = time.perf_counter()
    x = features(images, variant, seed)
    times["features"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    codes, parts = _spectral(x, n_components, n_neighbors, seed)
    times["embedding"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    probe = stratified_probe(codes, labels, seed, epochs, lr, batch_size)
    times["probe"] = round(time.perf_counter() - start, 3)
    result = LaplacianResult(
        variant=variant, seed=seed, n_images=n, feature_dim=x.shape[1],
        n_components=n_components, n_neighbors=n_neighbors, eigen_solver="arpack",
        affinity="nearest_neighbors", graph_components=parts,
        probe_train_acc=probe["train_acc"], probe_test_acc=probe["test_acc"],
        probe_per_class_test_acc=probe["per_class_test_acc"], train_size=probe["train_size"],
        test_size=probe["test_size"], train_class_counts=probe["train_class_counts"],
        test_class_counts=probe["test_class_counts"], probe_settings=probe["settings"],
        timings=times)
    return result, codes
