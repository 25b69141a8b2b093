"""``sras predict``: a trained run on a user's own chromosome images, optionally as whole-cell karyotypes.

The preprocessing is the one the run was trained with, read from the run folder (IAM or resize, size, background,
threshold) and, when its dataset was made from SRAFBN-upscaled images, the run's copy of that SR model first: predicting
on images needs nothing outside the run folder.
Unreadable images, images with no foreground and files that are no images are skipped and listed; the rest are still
predicted.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from sras_keras.configs.inference import Preprocessing
from sras_keras.core.errors import SrasError
from sras_keras.core.io import display_path
from sras_keras.data.iam import has_foreground
from sras_keras.data.readers import cell_pattern
from sras_keras.inference.inputs import InputImage, gather_inputs, labels_source, resolve_layout
from sras_keras.inference.karyotype import assign_cells
from sras_keras.inference.outputs import summarise, write_outputs
from sras_keras.inference.predictor import Predictor, predict_files, predict_records
from sras_keras.inference.shipped import model_folder
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


def check_out(out: Path, model_dir: Path, inputs: list[Path]) -> None:
    """``--out`` is written into: not the model's folder (a run's own predictions.csv would be overwritten), not an
    INPUT, and not inside an INPUT folder (the outputs would be read as images the next time)."""
    where = out.resolve()
    if where == model_dir.resolve():
        raise SrasError(
            f"--out {display_path(out)}: the model's own folder, whose files it would overwrite; choose another folder"
        )
    for path in inputs:
        given = path.resolve()
        if where == given:
            raise SrasError(f"--out {display_path(out)}: is the INPUT {display_path(path)}; choose another folder")
        if given in where.parents:
            raise SrasError(
                f"--out {display_path(out)}: inside the INPUT {display_path(path)}, so its outputs would be read as "
                "inputs the next time; choose a folder outside the inputs"
            )


def with_foreground(
    images: list[InputImage], preprocessing: Preprocessing
) -> tuple[list[InputImage], list[tuple[str, str]]]:
    """(images with a chromosome, [(name, why) of the rest]): an image with no pixel off the run's background by more
    than its threshold (blank, or nearly black on a black background) holds nothing to classify."""
    kept, blank = [], []
    for image in images:
        if has_foreground(image.array, preprocessing.background, preprocessing.threshold):
            kept.append(image)
        else:
            blank.append(
                (
                    image.name,
                    f"no foreground: no pixel differs from the model's background ({preprocessing.background}) by "
                    f"more than its threshold ({preprocessing.threshold})",
                )
            )
    return kept, blank


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
    model: str,
    inputs: list,
    out,
    *,
    karyotype: bool = False,
    size_evidence: bool = False,
    tta: bool = False,
    cell_bn: bool = False,
    cell_regex: str | None = None,
    layout: str = "auto",
    label_coding: str = "standard",
    parts: list[str] | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> dict:
    """Predict ``inputs`` (files and folders, or one converted dataset) with ``model`` (a shipped model's name, a run
    folder or a packaged model folder: ``shipped.model_folder``); writes
    ``predictions.csv``, ``summary.json`` and, with ``karyotype``, ``karyotypes.json`` and karyogram PNGs.
    ``size_evidence``: the probabilities (and so everything after them) include the run's size evidence.
    ``tta``: each chromosome is also seen mirrored (``with_mirror_view``). ``cell_bn``: each cell normalised with its
    own BatchNorm statistics (``views.cell_statistics``). ``layout`` and ``label_coding``: how the inputs are read
    (``inputs.resolve_layout``); ``parts`` only for a converted dataset."""
    run_dir, out, inputs = model_folder(str(model)), Path(out), [Path(p) for p in inputs]
    cell_pattern(cell_regex)  # a bad --cell-regex, --out or layout fails before the model loads
    check_out(out, run_dir, inputs)
    layout = resolve_layout(inputs, layout, label_coding)
    if parts and layout != "records":
        shown = ",".join(parts)
        raise SrasError(f"--parts {shown}: applies only to a converted dataset (--layout records), not to {layout}")
    predictor = Predictor(run_dir)
    if cell_bn:
        if not batchnorm_layers(predictor.model):
            raise SrasError(f"{run_dir}: its model has no BatchNorm layer, so --cell-bn does not apply")
    started = time.perf_counter()  # throughput: read, preprocess, predict, assign; model load and writes excluded
    skipped: list[tuple[str, str]] = []
    record_dir = inputs[0] if layout == "records" else None
    if record_dir is not None:
        images, probabilities = predict_records(predictor, record_dir, parts, batch_size, tta, cell_bn)
    else:
        images, skipped = gather_inputs(inputs, cell_regex, layout, label_coding)
        images = [dataclasses.replace(image, array=predictor.as_trained(image.array)) for image in images]
        images, blank = with_foreground(images, predictor.preprocessing)
        skipped += blank
        if not images:
            raise SrasError(
                f"none of the {len(skipped)} files could be predicted (first: {skipped[0][0]}: {skipped[0][1]})"
            )
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
            "model": str(model),
            "layout": layout,
            "labels": labels_source(layout, label_coding, images),
            "tta": tta,
            "cell_bn": cell_bn,
            "skipped": len(skipped),
            "seconds": round(seconds, 2),
            "cells_per_minute": round(summary["cells"] / seconds * 60, 2),
        }
    )
    write_outputs(out, images, probabilities, skipped, cells, summary, predictor.preprocessing.background)
    return summary
