"""Reproducible train/validation/test splits and K folds, saved as ``splits.json``.

Schemes:
- ``paper``: SRAS-net's stratified 4:1 image-level split; its test fifth doubles as the validation set.
- ``holdout``: train/val/test; by default grouped by cell, so no cell is in two parts (cells are stratified by
  sex, so male cells, the only source of Y, are spread over the parts).
- ``kfold``: stratified K folds (the two-step study); ``group_by="cell"`` keeps each cell in one fold.
A part is named ``train``/``val``/``test`` or ``fold0``..``foldK-1``.
"""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, train_test_split

from sras_keras.configs.convert import SplitConfig
from sras_keras.configs.records import DataSource, SplitImage, Splits, read_record
from sras_keras.core.errors import SrasError
from sras_keras.core.io import display_path
from sras_keras.data.labels import CLASS_NAMES, Y_INDEX
from sras_keras.data.readers import SourceImage


def assign_parts(images: list[SourceImage], config: SplitConfig) -> list[str]:
    """The part of every image, deterministic for a given seed and image list."""
    config = config.resolved()
    if config.group_by == "cell":
        missing = [image.path for image in images if not image.cell_id]
        if missing:
            raise SrasError(
                f"{display_path(missing[0])}: no cell id, so the split cannot be grouped by cell (pass --cell-regex, "
                "or --group-by image to split images regardless of their cell)"
            )
    labels = np.array([image.label for image in images])
    try:
        if config.scheme == "kfold":
            return _kfold_parts(images, labels, config)
        if config.scheme == "holdout" and config.group_by == "cell":
            part_of_cell = _holdout_cells(images, config)
            return [part_of_cell[image.cell_id] for image in images]
        return _stratified_parts(labels, config)
    except ValueError as error:  # scikit-learn: a class too small to stratify, more folds than members
        raise SrasError(f"cannot make a {config.scheme} split of these images: {error}") from None


def _stratified_parts(labels: np.ndarray, config: SplitConfig) -> list[str]:
    """Image-level stratified train/test (paper: 4:1) or train/val/test (holdout by image)."""
    test_fraction = 0.2 if config.scheme == "paper" else config.test_fraction
    indices = np.arange(len(labels))
    rest, test = train_test_split(indices, test_size=test_fraction, stratify=labels, random_state=config.seed)
    parts = np.full(len(labels), "train", dtype=object)
    parts[test] = "test"
    if config.scheme == "holdout" and config.val_fraction > 0:
        val_share = config.val_fraction / (1 - test_fraction)
        _, val = train_test_split(rest, test_size=val_share, stratify=labels[rest], random_state=config.seed)
        parts[val] = "val"
    return list(parts)


def _kfold_parts(images: list[SourceImage], labels: np.ndarray, config: SplitConfig) -> list[str]:
    if config.group_by == "cell":
        folds = StratifiedGroupKFold(n_splits=config.folds, shuffle=True, random_state=config.seed)
        groups = [image.cell_id for image in images]
    else:
        folds = StratifiedKFold(n_splits=config.folds, shuffle=True, random_state=config.seed)
        groups = None
    parts = np.empty(len(images), dtype=object)
    for fold, (_, held) in enumerate(folds.split(np.zeros(len(labels)), labels, groups)):
        parts[held] = f"fold{fold}"
    return list(parts)


def _holdout_cells(images: list[SourceImage], config: SplitConfig) -> dict[str, str]:
    """Cells to parts, stratified by sex (a cell with a Y is male)."""
    male = {image.cell_id for image in images if image.label == Y_INDEX}
    cells = sorted({image.cell_id for image in images})
    if len(cells) < 3:
        raise SrasError(f"a holdout split grouped by cell needs at least 3 cells, found {len(cells)}")
    rng = np.random.default_rng(config.seed)
    assignment, training = {}, []
    for stratum in ([c for c in cells if c in male], [c for c in cells if c not in male]):
        order = [stratum[i] for i in rng.permutation(len(stratum))]
        n_test = _share(config.test_fraction, len(order))
        n_val = _share(config.val_fraction, len(order))
        for position, cell in enumerate(order):
            assignment[cell] = "test" if position < n_test else "val" if position < n_test + n_val else "train"
        training.append([cell for cell in order if assignment[cell] == "train"])
    # strata too small to spare a cell (4 cells, 2 of each sex) would leave test or val empty without a word:
    # such a part takes a training cell of the stratum that has the most
    for part in ("test", "val") if config.val_fraction > 0 else ("test",):
        if part not in assignment.values():
            assignment[max(training, key=len).pop()] = part
    return assignment


def _share(fraction: float, n: int) -> int:
    """Cells of a stratum for a part: rounded, but at least one when the stratum can spare it, so a small
    set still has male cells (the only Y chromosomes) in validation and test."""
    return max(1, round(fraction * n)) if fraction > 0 and n >= 3 else int(round(fraction * n))


def duplicates_across_parts(images: list[SourceImage], md5s: list[str], parts: list[str]) -> list[list[str]]:
    """Groups of identical files (same md5) that sit in more than one part: a silent train/test leak."""
    by_md5 = collections.defaultdict(list)
    for image, md5, part in zip(images, md5s, parts):
        by_md5[md5].append((image.path, part))
    return [[path for path, _ in group] for group in by_md5.values() if len({part for _, part in group}) > 1]


def splits_record(
    images: list[SourceImage],
    md5s: list[str],
    parts: list[str],
    config: SplitConfig,
    source: DataSource,
    synthetic: dict | None = None,
) -> Splits:
    """``splits.json`` of a conversion; ``synthetic`` maps the index of each SMOTE image to how it was made."""
    config = config.resolved()
    counts = collections.Counter(parts)
    synthetic = synthetic or {}
    entries = []
    for index, (image, md5, part) in enumerate(zip(images, md5s, parts)):
        made = synthetic.get(index)
        entries.append(
            SplitImage(
                path=image.path,
                md5=md5,
                cell_id=image.cell_id,
                class_name=CLASS_NAMES[image.label],
                part=part,
                synthetic=made is not None,
                parents=tuple(made.parents) if made else (),
                smote_step=made.step if made else 0.0,
            )
        )
    return Splits(
        config=config,
        validation_part=config.validation_part,
        source=source,
        counts={part: counts.get(part, 0) for part in config.parts()},
        images=entries,
    )


def parts_from_file(path: str | Path, images: list[SourceImage]) -> tuple[SplitConfig, list[str]]:
    """Reuse a saved split (e.g. for super-resolved copies of the same images): match by relative path."""
    path = Path(path)
    saved = read_record(Splits, path)
    by_path = {entry.path: entry for entry in saved.images}
    parts = []
    for image in images:
        entry = by_path.get(image.path)
        if entry is None:
            raise SrasError(f"{path}: has no entry for source image {image.path}")
        if entry.class_name != image.class_name:
            raise SrasError(f"{path}: {image.path} is class {entry.class_name} there but {image.class_name} here")
        parts.append(entry.part)
    return saved.config, parts
