"""The papers' figures from a run's predictions: confusion matrix in karyotype order (SRAS-net Fig 7) and a
t-SNE of penultimate-layer features (Fig 8)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from sklearn.manifold import TSNE

from sras_keras.data.labels import CLASS_NAMES


def confusion_matrix_figure(matrix, path: str | Path, title: str = "") -> Path:
    """Counts in karyotype order (1..22, X, Y), true class down, predicted across."""
    matrix = np.asarray(matrix)
    figure = Figure(figsize=(9, 8))
    axis = figure.subplots()
    image = axis.imshow(matrix, cmap="Blues")
    ticks = np.arange(len(CLASS_NAMES))
    axis.set_xticks(ticks, CLASS_NAMES, fontsize=7)
    axis.set_yticks(ticks, CLASS_NAMES, fontsize=7)
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, col), count in np.ndenumerate(matrix):
        if count:
            axis.text(
                col,
                row,
                str(count),
                ha="center",
                va="center",
                fontsize=5,
                color="white" if count > threshold else "black",
            )
    accuracy = np.trace(matrix) / max(1, matrix.sum())
    axis.set_title(f"{title}  accuracy = {100 * accuracy:.2f}%".strip())
    figure.colorbar(image, ax=axis, fraction=0.046)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=130)
    return path


def tsne_figure(features: np.ndarray, labels: np.ndarray, path: str | Path, seed: int = 0, title: str = "") -> Path:
    """2-D t-SNE of ``features`` coloured and labelled by class; deterministic for a seed."""
    labels = np.asarray(labels)
    perplexity = float(min(30, max(2, (len(features) - 1) / 3)))
    embedded = TSNE(n_components=2, perplexity=perplexity, random_state=seed, init="pca").fit_transform(
        np.asarray(features, dtype=np.float32)
    )
    figure = Figure(figsize=(8, 8))
    axis = figure.subplots()
    colours = matplotlib.colormaps["tab20"].resampled(len(CLASS_NAMES))
    for index, name in enumerate(CLASS_NAMES):
        points = embedded[labels == index]
        if len(points):
            axis.scatter(points[:, 0], points[:, 1], s=6, color=colours(index), alpha=0.7)
            centre = np.median(points, axis=0)
            axis.text(centre[0], centre[1], name, fontsize=9, weight="bold", ha="center", va="center")
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_title(title or "t-SNE of penultimate-layer features (test set)")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=130)
    return path
