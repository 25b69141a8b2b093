"""``sras predict``: a trained run on a user's own chromosome images, optionally as whole-cell karyotypes.

The preprocessing is the one the run was trained with, read from the run folder (IAM or resize, size, background,
threshold) and, when its dataset was made from SRAFBN-upscaled images, the run's copy of that SR model first: predicting
on images needs nothing outside the run folder.
Unreadable images are skipped and listed; the rest are still predicted.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from sras_keras.configs.inference import Preprocessing
from sras_keras.core.errors import SrasError
from sras_keras.core.run_files import MANIFEST
from sras_keras.data.readers import cell_pattern
from sras_keras.inference.inputs import InputImage, gather_inputs
from sras_keras.inference.karyotype import assign_cells
from sras_keras.inference.outputs import summarise, write_outputs
from sras_keras.inference.predictor import Predictor, predict_files, predict_records
from sras_keras.inference.size_evidence import (
    foreground_area,
    load_size_evidence,
    relative_log_sizes,
    source_relative_sizes,
)
from sras_keras.inference.views import batchnorm_layers


def karyotype_cells(images: list[InputImage], probabilities: np.ndarray) -> dict:
    if any(image.cell_id == "" for image in images):
        raise SrasError("--karyotype needs each image's cell: give cell folders, or --cell-regex for class folders")
    return assign_cells(probabilities, [image.cell_id for image in images])


def with_size_evidence(
    run_dir: Path,
    images: list[InputImage],
    probabilities: np.ndarray,
    preprocessing: Preprocessing,
    record_dir: Path | None,
    tta: bool = False,
    cell_bn: bool = False,
) -> tuple[np.ndarray, float]:
    """The probabilities fused with the run's cell-relative size evidence (``sras size-evidence``, fitted with the
    same ``tta`` and ``cell_bn``: the weight was chosen for those probabilities), and its weight."""
    evidence = load_size_evidence(run_dir, tta, cell_bn)
    if any(image.cell_id == "" for image in images):
        raise SrasError("--size-evidence needs each image's cell: give cell folders, or --cell-regex for class folders")
    if record_dir is not None:
        sizes = source_relative_sizes(
            record_dir, preprocessing.background, preprocessing.threshold, evidence.min_cell_images
        )
        relative = np.array([sizes.get(image.name, (np.nan,))[0] for image in images])  # SMOTE's: none
    else:
        areas = [foreground_area(image.array, preprocessing.background, preprocessing.threshold) for image in images]
        relative = relative_log_sizes(areas, [image.cell_id for image in images], evidence.min_cell_images)
    return evidence.fuse(probabilities, relative), evidence.weight


def predict(
    run_dir,
    inputs: list,
    out,
    *,
    karyotype: bool = False,
    size_evidence: bool = False,
    tta: bool = False,
    cell_bn: bool = False,
    cell_regex: str | None = None,
    parts: list[str] | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> dict:
    """Predict ``inputs`` (files and folders, or one converted dataset) with the run in ``run_dir``; writes
    ``predictions.csv``, ``summary.json`` and, with ``karyotype``, ``karyotypes.json`` and karyogram PNGs.
    ``size_evidence``: the probabilities (and so everything after them) include the run's size evidence.
    ``tta``: each chromosome is also seen mirrored (``with_mirror_view``). ``cell_bn``: each cell normalised with its
    own BatchNorm statistics (``views.cell_statistics``)."""
    run_dir, out, inputs = Path(run_dir), Path(out), [Path(p) for p in inputs]
    cell_pattern(cell_regex)  # a bad --cell-regex fails before the model loads
    predictor = Predictor(run_dir)
    if cell_bn:
        if not batchnorm_layers(predictor.model):
            raise SrasError(f"{run_dir}: its model has no BatchNorm layer, so --cell-bn does not apply")
    started = time.perf_counter()  # throughput: read, preprocess, predict, assign; model load and writes excluded
    skipped: list[tuple[str, str]] = []
    record_dir = inputs[0] if len(inputs) == 1 and (inputs[0] / MANIFEST).is_file() else None
    if record_dir is not None:
        images, probabilities = predict_records(predictor, record_dir, parts, batch_size, tta, cell_bn)
    else:
        images, skipped = gather_inputs(inputs, cell_regex)
        if not images:
            raise SrasError(
                f"none of the {len(skipped)} images could be read (first: {skipped[0][0]}: {skipped[0][1]})"
            )
        images = [dataclasses.replace(image, array=predictor.as_trained(image.array)) for image in images]
        probabilities = predict_files(predictor, images, batch_size, progress, tta, cell_bn)
    if size_evidence:
        image_only = probabilities
        probabilities, weight = with_size_evidence(
            run_dir, images, probabilities, predictor.preprocessing, record_dir, tta, cell_bn
        )
    cells = karyotype_cells(images, probabilities) if karyotype else None
    seconds = time.perf_counter() - started
    summary = summarise(images, probabilities, cells)
    if size_evidence:
        summary["size_evidence_weight"] = weight
        if "accuracy_argmax" in summary:
            summary["accuracy_argmax_image_only"] = summarise(images, image_only, None)["accuracy_argmax"]
    summary.update(
        {
            "run": str(run_dir),
            "tta": tta,
            "cell_bn": cell_bn,
            "skipped": len(skipped),
            "seconds": round(seconds, 2),
            "cells_per_minute": round(summary["cells"] / seconds * 60, 2),
        }
    )
    write_outputs(out, images, probabilities, skipped, cells, summary, predictor.preprocessing.background)
    return summary
