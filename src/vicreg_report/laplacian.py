"""Q6: Laplacian Eigenmaps (sklearn SpectralEmbedding, ARPACK) of train images, probed linearly.

Two inputs to the neighbourhood graph:

* ``raw_pixels``: the CIFAR-normalised pixels, flattened (3,072-D), Euclidean, as
  the original write-up did;
* ``random_cnn``: an untrained, seeded 4-layer linear CNN (4 x Conv2d, kernel 5,
  32 channels, no padding, no non-linearity; 32x32 -> 16x16x32 = 8,192 values)
  followed by a fixed seeded Gaussian projection to 1,024-D, as the course's later
  protocol asks.

The graph has ``n_neighbors`` neighbours a point (fixed in advance at 10: the
usual sparse kNN graph, and the fastest). The codes are probed on a seeded,
stratified split: 80% to fit, 10% to validate, 10% to test. How many
eigenvectors the codes keep is chosen on the validation part only: each of
COMPONENTS_TRIED (2 to 128) is probed, the number with the best validation accuracy
is kept, and the test part is scored once for each, for the figure (``sweep``). The
same seed gives the same split, so the encoders' representations of the same images
are probed on it too.
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
from .probe import METHOD, accuracy_problems, fit_linear_probe, per_class_accuracy

VARIANTS = ("raw_pixels", "random_cnn")
CNN_LAYERS, CNN_CHANNELS, CNN_KERNEL = 4, 32, 5
PROJECTED_DIM = 1024
VAL_FRACTION = TEST_FRACTION = 0.1
COMPONENTS_TRIED = (2, 4, 8, 16, 32, 64, 128)
DEFAULT_NEIGHBORS = 10


@dataclass
class SplitProbe:
    """A linear probe fitted on a split's fit part: validation and test accuracy."""

    val_acc: float
    test_acc: float
    train_acc: float
    per_class_test_acc: list[float]


@dataclass
class SplitProbeResult:
    """An encoder's representations of Q6's images, probed on Q6's split."""

    probe: SplitProbe
    split_sizes: dict[str, int]
    test_class_counts: list[int]

    def problems(self) -> list[str]:
        return split_probe_problems(self)


def split_probe_problems(result) -> list[str]:
    return accuracy_problems("test", result.probe.test_acc, result.probe.per_class_test_acc,
                             result.test_class_counts)


@dataclass
class LaplacianResult:
    """Laplacian-Eigenmap codes of ``n_images`` train images, probed linearly.

    ``probe``: the study's probe at the ``n_components`` chosen on its validation
    accuracy; ``sweep``: its accuracies at each of ``components_tried``.
    """

    variant: str
    seed: int
    n_images: int
    feature_dim: int
    n_neighbors: int
    eigen_solver: str
    affinity: str
    graph_components: int          # connected components of the kNN graph (1: connected)
    components_tried: list[int]
    n_components: int              # chosen on validation accuracy
    choice: str
    probe: SplitProbe
    sweep: dict[str, list[float]]  # val_acc, test_acc
    split_sizes: dict[str, int]    # fit, val, test
    test_class_counts: list[int]
    probe_settings: dict
    timings: dict[str, float]      # seconds: features, embedding, probe

    def problems(self) -> list[str]:
        return split_probe_problems(self)


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


def laplacian_eigenmaps(features: np.ndarray, n_components: int,
                        n_neighbors: int = DEFAULT_NEIGHBORS, seed: int = 0) -> np.ndarray:
    """SpectralEmbedding (kNN graph, ARPACK) codes: (N, n_components) float32."""
    return _spectral(features, n_components, n_neighbors, seed)[0]


# ---------------------------------------------------------------- probe

def stratified_split(labels: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded stratified fit / val / test indices (80 / 10 / 10), each sorted. The test
    part is the 10% that a 90/10 split with the same seed holds out."""
    labels = np.asarray(labels)
    try:
        rest, test = train_test_split(np.arange(len(labels)), test_size=TEST_FRACTION,
                                      stratify=labels, random_state=seed)
        fit, val = train_test_split(rest, test_size=VAL_FRACTION / (1 - TEST_FRACTION),
                                    stratify=labels[rest], random_state=seed)
    except ValueError as exc:
        raise VicregError(f"Cannot split {len(labels)} labelled images stratified 80% / 10% "
                          f"/ 10%: {exc}") from None
    return {"fit": np.sort(fit), "val": np.sort(val), "test": np.sort(test)}


def split_probe(codes: np.ndarray, labels: np.ndarray, split: dict[str, np.ndarray],
                l2: float) -> tuple[SplitProbe, np.ndarray]:
    """``fit_linear_probe`` fitted on the split's fit part, scored on val and test; the
    probe and its test predictions."""
    codes, labels = np.asarray(codes, dtype=np.float32), np.asarray(labels)
    if codes.ndim != 2 or len(codes) != len(labels):
        raise VicregError(f"Need (N, D) codes and N labels, got {codes.shape} and {labels.shape}.")
    fit, val, test = split["fit"], split["val"], split["test"]
    scored = np.concatenate([val, test])
    out = fit_linear_probe(codes[fit], labels[fit], codes[scored], labels[scored], l2)
    pred = out["test_pred"]
    val_pred, test_pred = pred[:len(val)], pred[len(val):]
    probe = SplitProbe(val_acc=float((val_pred == labels[val]).mean()),
                       test_acc=float((test_pred == labels[test]).mean()),
                       train_acc=out["train_acc"],
                       per_class_test_acc=per_class_accuracy(test_pred, labels[test],
                                                             int(labels.max()) + 1))
    return probe, test_pred


def components_tried(n_images: int, most: int) -> list[int]:
    """COMPONENTS_TRIED up to ``most`` and below what ``n_images`` points allow."""
    tried = [k for k in COMPONENTS_TRIED if k <= most and k < n_images - 1]
    if not tried:
        raise VicregError(f"{n_images} images are too few for Laplacian Eigenmaps.")
    return tried


# ---------------------------------------------------------------- one variant

def run_variant(images: np.ndarray, labels: np.ndarray, variant: str, seed: int = 0,
                most_components: int = COMPONENTS_TRIED[-1],
                n_neighbors: int = DEFAULT_NEIGHBORS,
                l2: float = 1e-3) -> tuple[LaplacianResult, dict[str, np.ndarray]]:
    """Features, Laplacian Eigenmaps with up to ``most_components`` eigenvectors, and the
    probes of the codes at each number tried; the number with the best validation
    accuracy is kept (ties: the fewer). Returns the result and arrays: ``codes`` at that
    number, the split's ``test`` indices and the probe's predictions there
    (``test_pred``)."""
    labels = np.asarray(labels)
    if len(labels) != len(images):
        raise VicregError(f"{len(images)} images but {len(labels)} labels.")
    tried = components_tried(len(images), most_components)
    times: dict[str, float] = {}
    start = time.perf_counter()
    x = features(images, variant, seed)
    times["features"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    codes, parts = _spectral(x, tried[-1], n_neighbors, seed)
    times["embedding"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    split = stratified_split(labels, seed)
    settings = {"method": METHOD, "l2": l2}
    fits = {k: split_probe(codes[:, :k], labels, split, l2) for k in tried}
    times["probe"] = round(time.perf_counter() - start, 3)
    chosen = max(tried, key=lambda k: (fits[k][0].val_acc, -k))
    sweep = {measure: [getattr(fits[k][0], measure) for k in tried]
             for measure in ("val_acc", "test_acc")}
    result = LaplacianResult(
        variant=variant, seed=seed, n_images=len(images), feature_dim=x.shape[1],
        n_neighbors=n_neighbors, eigen_solver="arpack", affinity="nearest_neighbors",
        graph_components=parts, components_tried=tried, n_components=chosen,
        choice="best validation accuracy; ties: fewer eigenvectors", probe=fits[chosen][0],
        sweep=sweep, split_sizes={k: len(v) for k, v in split.items()},
        test_class_counts=np.bincount(labels[split["test"]],
                                      minlength=int(labels.max()) + 1).tolist(),
        probe_settings=settings, timings=times)
    return result, {"codes": codes[:, :chosen], "test": split["test"],
                    "test_pred": fits[chosen][1]}
