"""Figures: matplotlib, one consistent style, readable in print."""

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
