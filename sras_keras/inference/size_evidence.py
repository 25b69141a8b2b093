"""Cell-relative size as evidence for a chromosome's class, beside the classifier's image evidence.

Cytogeneticists number chromosomes by size first; a classifier fed one resized crop at a time sees little of it
(stretch removes it, IAM keeps it only up to each cell's condensation). Within a cell, size is comparable: each
chromosome's foreground area over the median area of its cell, on a log scale, has a narrow, class-dependent
distribution. ``SizeEvidence`` fits one Gaussian per class on training cells and multiplies it into the
classifier's probabilities with a weight chosen on validation cells (the one of least log loss):

    log p(class | image, size) = log p(class | image) + weight * log N(size; mean_class, std_class) + const

It needs the whole cell (the median), so a cell of fewer than ``min_cell_images`` chromosomes gets no size evidence.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from sras_keras.configs.records import SizeEvidenceFit, read_record
from sras_keras.core.errors import SrasError
from sras_keras.core.progress import progress as progress_bar
from sras_keras.core.run_files import size_evidence_file
from sras_keras.data.iam import foreground_mask
from sras_keras.data.pipeline import load_manifest, load_splits
from sras_keras.data.readers import read_source

# Weights tried on the validation cells, fixed before any test cell is seen. Log loss, not accuracy, picks one: on
# a few hundred validation images several weights can tie on accuracy, while the log loss is smooth in the weight.
WEIGHTS = tuple(round(0.1 * k, 1) for k in range(21))
_MIN_STD = 0.02  # a class seen at one size only must not get an infinitely sharp likelihood
_FLOOR = 1e-7


@dataclasses.dataclass(frozen=True)
class SizeEvidence:
    """Per-class Gaussians of the log cell-relative foreground area, and the weight of their log-likelihood."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    weight: float = 0.0
    min_cell_images: int = 10

    @classmethod
    def fit(cls, relative_sizes, labels, num_classes: int = 24, min_cell_images: int = 10) -> "SizeEvidence":
        """Fit on training images: ``relative_sizes`` from `relative_log_sizes` (NaN: no evidence, ignored)."""
        sizes, labels = np.asarray(relative_sizes, float), np.asarray(labels)
        known = ~np.isnan(sizes)
        missing = [k for k in range(num_classes) if not np.any(known & (labels == k))]
        if missing:
            raise SrasError(
                f"size evidence: no training image of class index(es) {missing} in a cell of at least "
                f"{min_cell_images} chromosomes"
            )
        mean = [float(sizes[known & (labels == k)].mean()) for k in range(num_classes)]
        std = [max(float(sizes[known & (labels == k)].std()), _MIN_STD) for k in range(num_classes)]
        return cls(tuple(mean), tuple(std), 0.0, min_cell_images)

    def log_likelihood(self, relative_sizes) -> np.ndarray:
        """(N, classes) Gaussian log-densities; rows of images without size evidence (NaN) are zero."""
        sizes = np.asarray(relative_sizes, float)[:, None]
        mean, std = np.asarray(self.mean), np.asarray(self.std)
        result = -0.5 * ((sizes - mean) / std) ** 2 - np.log(std)
        return np.where(np.isnan(sizes), 0.0, result)

    def fuse(self, probabilities, relative_sizes, weight: float | None = None) -> np.ndarray:
        """The classifier's probabilities times the size likelihood to the power ``weight`` (default: the fitted
        one), renormalised per image."""
        weight = self.weight if weight is None else weight
        scores = np.log(np.clip(np.asarray(probabilities, float), _FLOOR, 1.0))
        scores = scores + weight * self.log_likelihood(relative_sizes)
        scores -= scores.max(axis=1, keepdims=True)
        fused = np.exp(scores)
        return fused / fused.sum(axis=1, keepdims=True)

    def choose_weight(self, probabilities, relative_sizes, labels, weights=WEIGHTS) -> tuple["SizeEvidence", dict]:
        """The weight of ``weights`` with the least log loss on these (validation) images (ties: the smaller);
        returns the evidence with it, and every weight's ``{"log_loss", "accuracy"}``."""
        labels = np.asarray(labels)
        tried = {}
        for weight in weights:
            fused = self.fuse(probabilities, relative_sizes, weight)
            tried[float(weight)] = {
                "log_loss": float(-np.mean(np.log(np.clip(fused[np.arange(len(labels)), labels], _FLOOR, 1.0)))),
                "accuracy": float(np.mean(fused.argmax(1) == labels)),
            }
        best = min(tried, key=lambda w: (tried[w]["log_loss"], w))
        return dataclasses.replace(self, weight=best), tried

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, document: dict) -> "SizeEvidence":
        return cls(
            tuple(document["mean"]), tuple(document["std"]), float(document["weight"]), int(document["min_cell_images"])
        )


def foreground_area(image: np.ndarray, background: int, threshold: int) -> int:
    """IAM's foreground, in pixels."""
    return int(np.count_nonzero(foreground_mask(image, background, threshold)))


def relative_log_sizes(areas, cells, min_cell_images: int = 10) -> np.ndarray:
    """log(area / median area of the image's cell); NaN for images of cells smaller than ``min_cell_images``
    and for empty images."""
    areas = np.asarray(areas, float)
    cells = np.asarray(cells)
    result = np.full(len(areas), np.nan)
    for cell in np.unique(cells):
        members = np.flatnonzero(cells == cell)
        if len(members) >= min_cell_images:
            median = np.median(areas[members])
            with np.errstate(divide="ignore"):
                result[members] = np.log(areas[members] / median) if median > 0 else np.nan
    result[~np.isfinite(result)] = np.nan
    return result


def load_size_evidence(run_dir: Path, tta: bool = False, cell_bn: bool = False) -> SizeEvidence:
    path = Path(run_dir) / size_evidence_file(tta, cell_bn)
    if not path.is_file():
        raise SrasError(
            f"{run_dir}: no {path.name}; fit it first with `sras size-evidence {run_dir}"
            f"{' --tta' if tta else ''}{' --cell-bn' if cell_bn else ''}`"
        )
    return SizeEvidence.from_dict(read_record(SizeEvidenceFit, path).evidence)


def source_relative_sizes(
    data_dir: Path, background: int, threshold: int, min_cell_images: int, progress: bool = False
) -> dict[str, tuple[float, str, str]]:
    """Every source image of a converted dataset: path -> (log cell-relative area, class name, part). SMOTE's
    images belong to no cell and have no size of their own: left out."""
    splits = load_splits(data_dir)
    invert = load_manifest(data_dir).config.invert
    root = Path(splits.source.root)
    entries = [entry for entry in splits.images if not entry.synthetic]
    areas = []
    for entry in progress_bar(entries, unit="image", desc="areas", disable=not progress):
        if not (root / entry.path).is_file():
            raise SrasError(
                f"{root / entry.path}: source image of {data_dir} is gone; size evidence is measured "
                "on the source images"
            )
        areas.append(foreground_area(read_source(root / entry.path, invert)[0], background, threshold))
    sizes = relative_log_sizes(areas, [entry.cell_id for entry in entries], min_cell_images)
    return {entry.path: (float(size), entry.class_name, entry.part) for entry, size in zip(entries, sizes)}
