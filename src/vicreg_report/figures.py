"""Figures: matplotlib, one consistent style, readable in print.

The plots; which results each experiment plots, and where, is in its module
(experiments/, ``draw``).
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .results import LossHistory, atomic_write  # noqa: E402

STYLE = {
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.grid": True, "grid.alpha": 0.3,
    "axes.spines.top": False, "axes.spines.right": False, "figure.dpi": 100,
    "savefig.dpi": 200, "savefig.bbox": "tight",
}
TRAIN_COLOR, TEST_COLOR = "#1f5fa8", "#d1495b"
TERM_TITLES = {"invariance": "Invariance  $L_{inv}$", "variance": "Variance  $L_{var}(Z)+L_{var}(Z')$",
               "covariance": "Covariance  $L_{cov}(Z)+L_{cov}(Z')$",
               "total": "Total  $\\lambda L_{inv} + \\mu L_{var} + \\nu L_{cov}$"}


def save_figure(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write(path, buf.getvalue())
    return Path(path)


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    window = max(1, min(window, len(values)))
    kernel = np.ones(window) / window
    padded = np.concatenate([np.full(window - 1, values[0]), values])
    return np.convolve(padded, kernel, mode="valid")


def training_curves(history: LossHistory, path: Path) -> Path:
    """One panel per term and one for the total: train per batch, test per epoch."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(2, 2, figsize=(7.2, 5.0), constrained_layout=True)
        steps = np.arange(1, len(history.train["total"]) + 1)
        epochs_at = np.arange(1, len(history.test["total"]) + 1) * history.steps_per_epoch
        window = max(1, history.steps_per_epoch // 4)
        for ax, term in zip(axes.flat, ("invariance", "variance", "covariance", "total")):
            train = np.asarray(history.train[term])
            ax.plot(steps, train, color=TRAIN_COLOR, alpha=0.25, linewidth=0.8)
            ax.plot(steps, moving_average(train, window), color=TRAIN_COLOR, linewidth=1.5,
                    label=f"train (per batch, {window}-batch mean)")
            ax.plot(epochs_at, history.test[term], "o-", color=TEST_COLOR, markersize=3.5,
                    linewidth=1.2, label="test (per epoch)")
            ax.set_title(TERM_TITLES[term])
            ax.set_xlabel("training batch")
            ax.set_ylabel("loss")
        axes[0, 0].legend(loc="upper right", frameon=False)
        return save_figure(fig, path)


# ---------------------------------------------------------------- experiments (issue 3)

# One colour per CIFAR-10 class, the same in every plot.
CLASS_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
ENCODER_COLORS = {"q1": "#1f5fa8", "q4": "#e07b00", "q5": "#2a9d4b", "random_init": "#7f7f7f"}
ENCODER_LABELS = {"q1": "Q1 VICReg", "q4": "Q4 no variance term", "q5": "Q5 no generated neighbours",
                  "random_init": "random initialisation"}


def scatter_by_class(ax, coords: np.ndarray, labels: np.ndarray, classes: list[str], title: str):
    for c, name in enumerate(classes):
        pts = coords[labels == c]
        ax.scatter(pts[:, 0], pts[:, 1], s=2, color=CLASS_COLORS[c % 10], label=name,
                   alpha=0.6, linewidths=0, rasterized=True)
    ax.set_title(title)
    bare(ax)


def bare(ax):
    """A map's axes carry no meaning: no ticks, spines or grid."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def class_legend(fig, classes: list[str]):
    handles = [plt.Line2D([], [], marker="o", linestyle="", markersize=5,
                          color=CLASS_COLORS[c % 10], label=name) for c, name in enumerate(classes)]
    fig.legend(handles=handles, loc="lower center", ncol=5, frameon=False,
               bbox_to_anchor=(0.5, -0.08))


def maps_side_by_side(panels: list[tuple[np.ndarray, np.ndarray, str]], classes: list[str],
                      path: Path) -> Path:
    """2-D maps (coords, labels, title) side by side, coloured by class."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.6),
                                 constrained_layout=True)
        for ax, (coords, labels, title) in zip(np.atleast_1d(axes), panels):
            scatter_by_class(ax, coords, labels, classes, title)
        class_legend(fig, classes)
        return save_figure(fig, path)


def pca_spectra(spectra: dict[str, np.ndarray], path: Path, top: int = 30) -> Path:
    """Normalised PCA eigenvalues of each encoder's representations (log scale)."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(4.8, 3.0), constrained_layout=True)
        for name, spectrum in spectra.items():
            k = np.arange(1, min(top, len(spectrum)) + 1)
            ax.semilogy(k, spectrum[:len(k)], "o-", markersize=3, color=ENCODER_COLORS[name],
                        label=ENCODER_LABELS[name])
        ax.set_xlabel("principal component")
        ax.set_ylabel("fraction of variance")
        ax.legend(frameon=False)
        return save_figure(fig, path)


VARIANT_LABELS = {"raw_pixels": "raw pixels", "random_cnn": "random-CNN features"}


def eigenvector_sweep(sweeps: dict[str, object], chance: float, path: Path) -> Path:
    """Q6: probe accuracy against the number of eigenvectors kept, for each graph.

    ``sweeps``: variant -> LaplacianResult. Filled markers: test, open: validation
    (which chooses the number, ringed). The dotted line is chance, where the original
    write-up's probe sat.
    """
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(sweeps), figsize=(3.6 * len(sweeps), 3.2),
                                 sharey=True, constrained_layout=True)
        for ax, (variant, r) in zip(np.atleast_1d(axes), sweeps.items()):
            k = r.components_tried
            ax.plot(k, r.sweep["test_acc"], "-", marker="o", markersize=3.5,
                    color=TRAIN_COLOR, label="test")
            ax.plot(k, r.sweep["val_acc"], "-", marker="o", markersize=3.5,
                    markerfacecolor="white", color=TEST_COLOR, label="validation")
            chosen = k.index(r.n_components)
            ax.plot([r.n_components], [r.sweep["val_acc"][chosen]], "o", markersize=9,
                    markerfacecolor="none", markeredgecolor="black", label="kept (validation)")
            ax.axhline(chance, linestyle=":", color="#777777", label="chance (original write-up)")
            ax.set_xscale("log", base=2)
            ax.set_xticks(k, [str(n) for n in k])
            ax.set_xlabel("eigenvectors kept")
            ax.set_title(f"Laplacian Eigenmaps, {VARIANT_LABELS[variant]}")
        np.atleast_1d(axes)[0].set_ylabel("linear-probe accuracy")
        np.atleast_1d(axes)[0].legend(frameon=False, fontsize=7)
        return save_figure(fig, path)


def _image_cell(ax, image: np.ndarray, caption: str = "", frame: str | None = None):
    ax.imshow(image, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(frame is not None)
        if frame:
            spine.set_edgecolor(frame)
            spine.set_linewidth(2)
    if caption:
        ax.set_xlabel(caption, fontsize=6, labelpad=1)


def retrieval_grid(images: np.ndarray, labels: np.ndarray, classes: list[str], queries: list[int],
                   nearest: list[list[int]], farthest: list[list[int]], title: str,
                   path: Path) -> Path:
    """Per query: the query, its nearest and its most distant train images."""
    k = len(nearest[0])
    cols = 1 + k + k
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(len(queries), cols, figsize=(0.62 * cols + 0.4, 0.72 * len(queries)),
                                 gridspec_kw={"wspace": 0.08, "hspace": 0.45})
        for row, q in enumerate(queries):
            cells = [(q, "#000000")] + [(i, None) for i in nearest[row]] + \
                    [(i, None) for i in farthest[row]]
            for col, (idx, frame) in enumerate(cells):
                _image_cell(axes[row, col], images[idx], classes[labels[idx]], frame)
        axes[0, 0].set_title("query", fontsize=7)
        axes[0, 1 + k // 2].set_title(f"{k} nearest", fontsize=7)
        axes[0, 1 + k + k // 2].set_title(f"{k} most distant", fontsize=7)
        fig.suptitle(title, fontsize=9)
        return save_figure(fig, path)


def roc_curves(curves: dict[str, tuple[list[float], list[float], float]], path: Path) -> Path:
    """ROC of each encoder, its AUC in the legend."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(4.2, 4.0), constrained_layout=True)
        for name, (fpr, tpr, auc) in curves.items():
            ax.plot(fpr, tpr, color=ENCODER_COLORS[name], linewidth=1.6,
                    label=f"{ENCODER_LABELS[name]} (AUC {auc:.4f})")
        ax.plot([0, 1], [0, 1], ":", color="#999999", linewidth=1)
        ax.set_xlabel("false positive rate (CIFAR-10 test flagged)")
        ax.set_ylabel("true positive rate (MNIST flagged)")
        ax.set_aspect("equal")
        ax.legend(loc="lower right", frameon=False)
        return save_figure(fig, path)


def top_anomalies(rows: dict[str, list[tuple[np.ndarray, str]]], path: Path) -> Path:
    """One row per encoder: its most anomalous test images, captioned."""
    cols = max(len(r) for r in rows.values())
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(len(rows), cols, figsize=(0.9 * cols + 1.2, 1.15 * len(rows)),
                                 squeeze=False, gridspec_kw={"wspace": 0.1, "hspace": 0.5})
        for r, (name, cells) in enumerate(rows.items()):
            for c in range(cols):
                if c < len(cells):
                    _image_cell(axes[r, c], cells[c][0], cells[c][1])
                else:
                    axes[r, c].axis("off")
            axes[r, 0].set_ylabel(ENCODER_LABELS[name], fontsize=7, rotation=0, ha="right",
                                  va="center", labelpad=6)
        return save_figure(fig, path)


def clusters_and_classes(panels: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
                         classes: list[str], path: Path) -> Path:
    """Per encoder: t-SNE coloured by KMeans cluster and by class, centres in black."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(len(panels), 2, figsize=(7.2, 3.5 * len(panels)),
                                 squeeze=False, constrained_layout=True)
        for row, (name, (coords, clusters, labels, centres)) in enumerate(panels.items()):
            cmap = plt.get_cmap("tab20b")
            ax = axes[row, 0]
            ax.scatter(coords[:, 0], coords[:, 1], s=2, c=[cmap((2 * c + c // 10) % 20) for c in clusters],
                       linewidths=0, rasterized=True)
            ax.set_title(f"{ENCODER_LABELS[name]}: KMeans clusters")
            scatter_by_class(axes[row, 1], coords, labels, classes,
                             f"{ENCODER_LABELS[name]}: true classes")
            for ax in axes[row]:
                ax.scatter(centres[:, 0], centres[:, 1], s=40, c="black", marker="X",
                           edgecolors="white", linewidths=0.6, label="cluster centre")
                bare(ax)
        class_legend(fig, classes)
        return save_figure(fig, path)
