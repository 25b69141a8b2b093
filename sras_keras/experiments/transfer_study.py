"""Figures of the two-step study over a finished Table 2 (``tl_table2`` runs): Fig 2, the Macro-F1 change of
two-step transfer against its baseline per architecture and band with paired-bootstrap 95% CIs, plotted against
log10(parameters); Figs 3-4, Grad-CAM of the three approaches on the same images, and of misclassified images
for the predicted and the true class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from sras_keras.configs.records import RunData, read_record
from sras_keras.core.errors import SrasError
from sras_keras.data.labels import CLASS_NAMES
from sras_keras.data.pipeline import make_dataset
from sras_keras.evaluation.gradcam import overlay
from sras_keras.evaluation.statistics import paired_bootstrap_difference
from sras_keras.experiments.report import pooled_predictions

_CLASS_INDEX = {name: index for index, name in enumerate(CLASS_NAMES)}


def _tags(row: dict) -> dict:
    return dict(tuple(pair) for pair in row.get("tags") or ())


def _labelled(row: dict) -> dict[str, tuple[int, int]]:
    """file -> (true, predicted) over a collected row's pooled out-of-fold predictions."""
    return {p["file"]: (_CLASS_INDEX[p["true"]], _CLASS_INDEX[p["top1"]]) for p in pooled_predictions(row)}


def two_step_gains(rows: list[dict], resamples: int = 10000, seed: int = 0) -> list[dict]:
    """Macro-F1(two-step) - Macro-F1(baseline) per (architecture, band, protocol), paired over the images both
    predicted (each image once, from its held-out fold). The baseline is ImageNet pre-training where the table has
    it, else training from scratch (the cpu config, which has no ImageNet weights)."""
    cells: dict[tuple, dict[str, dict]] = {}
    for row in rows:
        tags = _tags(row)
        if {"architecture", "band", "approach"} <= set(tags):
            key = (tags["architecture"], tags["band"], tags.get("protocol", "paper"))
            cells.setdefault(key, {})[tags["approach"]] = row
    gains = []
    for (architecture, band, protocol), approaches in sorted(cells.items()):
        baseline = "imagenet" if "imagenet" in approaches else "scratch"
        if "two_step" not in approaches or baseline not in approaches:
            continue
        base, two_step = _labelled(approaches[baseline]), _labelled(approaches["two_step"])
        shared = sorted(set(base) & set(two_step))
        if not shared:
            raise SrasError(f"{architecture} / {band}: the {baseline} and two-step rows share no test image")
        truth = np.array([base[path][0] for path in shared])
        result = paired_bootstrap_difference(
            truth,
            np.array([base[path][1] for path in shared]),
            np.array([two_step[path][1] for path in shared]),
            resamples=resamples,
            seed=seed,
        )
        gains.append(
            {"architecture": architecture, "band": band, "protocol": protocol, "baseline": baseline, **result.to_dict()}
        )
    return gains


def gains_figure(gains: list[dict], parameters: dict[str, int], path: Path, title: str = "") -> Path:
    """One panel per band: change in Macro-F1 (points) against log10(#parameters), 95% CI error bars."""
    bands = sorted({gain["band"] for gain in gains})
    figure = Figure(figsize=(6 * len(bands), 4.5))
    axes = figure.subplots(1, len(bands), squeeze=False)
    for axis, band in zip(axes[0], bands):
        for gain in (g for g in gains if g["band"] == band):
            x = np.log10(parameters[gain["architecture"]])
            y = 100 * gain["difference"]
            error = [[y - 100 * gain["ci_low"]], [100 * gain["ci_high"] - y]]
            marker = "o" if gain["protocol"] == "paper" else "s"
            axis.errorbar(x, y, yerr=error, fmt=marker, capsize=3)
            axis.annotate(
                f"{gain['architecture']} ({gain['protocol']})",
                (x, y),
                fontsize=7,
                xytext=(4, 4),
                textcoords="offset points",
            )
        axis.axhline(0, color="gray", linewidth=0.8)
        axis.set_xlabel("log10(#parameters)")
        axis.set_ylabel(f"Δ Macro-F1 (points), two-step − {gains[0]['baseline']}")
        axis.set_title(f"{band} band")
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=130)
    return path


def fold_test_images(fold_run: str | Path, count: int, seed: int = 0):
    """(images (N, S, S, 1) float32, labels, source paths): ``count`` seeded test images of a fold run."""
    data = read_record(RunData, fold_run)
    images, labels, paths = [], [], []
    for batch, label, meta in make_dataset(
        data.data_dir,
        data.test,
        batch_size=256,
        rotated_copies=False,
        synthetic=False,
        with_metadata=True,
        autotune=False,
    ):
        images.append(batch.numpy())
        labels.append(label.numpy())
        paths += [path.decode() for path in meta["source_path"].numpy()]
    images, labels = np.concatenate(images), np.concatenate(labels)
    keep = np.sort(np.random.default_rng(seed).permutation(len(labels))[:count])
    return images[keep], labels[keep], [paths[i] for i in keep]


def gradcam_grid(
    images: np.ndarray, columns: list[tuple[str, np.ndarray]], row_titles: list[str], path: Path, title: str = ""
) -> Path:
    """Rows = images; the input first, then one jet overlay per (title, maps (N, H, W)) column."""
    figure = Figure(figsize=(2.2 * (len(columns) + 1), 2.2 * len(images)))
    axes = figure.subplots(len(images), len(columns) + 1, squeeze=False)
    for row, image in enumerate(images):
        gray = np.clip(image[..., 0], 0, 255).astype(np.uint8)
        axes[row][0].imshow(gray, cmap="gray", vmin=0, vmax=255)
        axes[row][0].set_ylabel(row_titles[row], fontsize=7)
        for column, (name, maps) in enumerate(columns, start=1):
            axes[row][column].imshow(overlay(gray, maps[row]))
            if row == 0:
                axes[row][column].set_title(name, fontsize=8)
        for axis in axes[row]:
            axis.set_xticks([])
            axis.set_yticks([])
    axes[0][0].set_title("input", fontsize=8)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=130)
    return path
