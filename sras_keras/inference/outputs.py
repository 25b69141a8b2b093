"""What ``sras predict`` writes: ``predictions.csv``, ``skipped.csv``, ``summary.json`` and, for whole cells,
``karyotypes.json`` and one karyogram PNG per cell."""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import numpy as np

from sras_keras.core.errors import SrasError
from sras_keras.core.io import atomic_path, make_folder, write_json_atomic
from sras_keras.core.run_files import PREDICTIONS
from sras_keras.data.iam import crop_to_foreground
from sras_keras.data.labels import CLASS_NAMES, Y_INDEX
from sras_keras.inference.inputs import InputImage
from sras_keras.inference.karyogram import karyogram_figure

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


_MAX_NAME = 100  # characters of a cell id kept in its karyogram's file name
# A text cell a spreadsheet would run as a formula (OWASP's CSV injection: =, +, -, @, tab, CR first), behind any
# quotes this escape added before: one more quote in front makes it text, and reading takes exactly that one off.
_FORMULA = re.compile(r"'*[=+\-@\t\r]")


def csv_text(value: str) -> str:
    """``value`` for a CSV text column: a leading quote keeps a spreadsheet from running it (``=cmd|...``)."""
    return "'" + value if _FORMULA.match(value) else value


def from_csv_text(value: str) -> str:
    """``csv_text`` undone: the name as it was."""
    return value[1:] if value.startswith("'") and _FORMULA.match(value[1:]) else value


def summarise(images: list[InputImage], probabilities: np.ndarray, cells: dict | None) -> dict:
    """Counts, and where the inputs carry labels: accuracy per image (argmax, and assigned), sex per cell, and the
    cells whose every labelled chromosome is assigned right (a karyotype a cytogeneticist need not correct)."""
    summary = {"images": len(images), "cells": len({image.cell_id for image in images})}
    labelled = np.array([image.label is not None for image in images])
    if not labelled.any():
        return summary
    truth = np.array([image.label for image in images if image.label is not None])
    summary["labelled_images"] = int(labelled.sum())
    summary["accuracy_argmax"] = float(np.mean(probabilities[labelled].argmax(1) == truth))
    if cells is not None:
        assigned = _assigned_per_image(images, cells)
        summary["accuracy_assigned"] = float(np.mean(assigned[labelled] == truth))
        sexes, wrong = {}, set()
        for image, assigned_class in zip(images, assigned):
            if image.label is not None:
                sexes.setdefault(image.cell_id, "XX")
                if image.label == Y_INDEX:
                    sexes[image.cell_id] = "XY"
                if assigned_class != image.label:
                    wrong.add(image.cell_id)
        summary["sex_correct_cells"] = int(sum(cells[cell].sex == sex for cell, sex in sexes.items()))
        summary["sex_cells"] = len(sexes)
        summary["cells_all_assigned_right"] = len(sexes) - len(wrong)
    return summary


def _assigned_per_image(images: list[InputImage], cells: dict) -> np.ndarray:
    position = {cell: 0 for cell in cells}
    assigned = []
    for image in images:  # assign_cells indexes each cell's images in input order
        assigned.append(int(cells[image.cell_id].assigned[position[image.cell_id]]))
        position[image.cell_id] += 1
    return np.array(assigned)


# predictions.csv, one schema for `sras predict` and `sras evaluate`: the image (its path in the dataset, or as
# given), its cell, whether SMOTE made it, its true class where known, the top three classes and, with whole-cell
# assignment, the class it was assigned (else empty)
PREDICTION_COLUMNS = (
    "file",
    "cell_id",
    "synthetic",
    "true",
    "top1",
    "p_top1",
    "top2",
    "p_top2",
    "top3",
    "p_top3",
    "assigned",
    "p_assigned",
)


def write_predictions(path: Path, images: list[InputImage], probabilities: np.ndarray, assigned=None) -> None:
    """``predictions.csv``; ``assigned``: each image's class after whole-cell assignment (-1: none), or None."""
    with atomic_path(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(PREDICTION_COLUMNS)
        for k, (image, probs) in enumerate(zip(images, probabilities)):
            top = np.argsort(-probs)[:3]
            row = [csv_text(image.name), csv_text(image.cell_id), int(image.synthetic)]
            row.append(CLASS_NAMES[image.label] if image.label is not None else "")
            row += [value for c in top for value in (CLASS_NAMES[c], f"{probs[c]:.6f}")]
            if assigned is None or assigned[k] < 0:
                row += ["", ""]
            else:
                row += [CLASS_NAMES[assigned[k]], f"{probs[assigned[k]]:.6f}"]
            writer.writerow(row)


def read_predictions(path: Path) -> list[dict]:
    """The rows of a ``predictions.csv`` (strings, by column name, file and cell as they were before ``csv_text``); a
    file of another schema is refused."""
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = tuple(reader.fieldnames or ())
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise SrasError(f"{path}: not readable ({error})") from None
    if header != PREDICTION_COLUMNS:
        raise SrasError(
            f"{path}: not a predictions.csv of this sras-keras (columns {', '.join(header) or 'none'}); "
            "evaluate the run again (`sras evaluate RUN`)"
        )
    return [{**row, "file": from_csv_text(row["file"]), "cell_id": from_csv_text(row["cell_id"] or "")} for row in rows]


def write_outputs(out: Path, images, probabilities, skipped, cells, summary, background: int) -> None:
    make_folder(out)
    assigned = _assigned_per_image(images, cells) if cells is not None else None
    write_predictions(out / PREDICTIONS, images, probabilities, assigned)
    if skipped:
        with atomic_path(out / "skipped.csv") as temporary, open(temporary, "w", newline="") as handle:
            csv.writer(handle).writerows([("file", "reason")] + [(csv_text(name), why) for name, why in skipped])
    if cells is not None:
        write_json_atomic(out / "karyotypes.json", {cell: result.to_dict() for cell, result in cells.items()})
        _karyograms(out / "karyograms", images, cells, background)
    write_json_atomic(out / "summary.json", summary)


def _karyograms(folder: Path, images, cells, background: int) -> None:
    if any(image.array is None for image in images):
        return  # TFRecord inputs hold preprocessed crops, not the originals a karyogram shows
    folder.mkdir(parents=True, exist_ok=True)
    names = karyogram_names(list(cells))
    for cell, result in cells.items():
        members = [image for image in images if image.cell_id == cell]
        crops = [crop_to_foreground(image.array, background).numpy()[..., 0] for image in members]
        karyogram_figure(crops, result, folder / names[cell], title=f"cell {cell}", background=background)


def karyogram_names(cells: list[str]) -> dict[str, str]:
    """A distinct file name for every cell id, inside the karyogram folder whatever the id holds (``../x``, ``/x``,
    ``a/b``): unsafe characters become ``_``, and an id that had to change gets a hash of itself, so ``a b`` and
    ``a_b`` cannot overwrite each other's file."""
    names, used = {}, set()
    for cell in cells:
        base = _UNSAFE.sub("_", cell).strip("._")[:_MAX_NAME] or "cell"
        if base != cell:
            base += "-" + hashlib.sha256(cell.encode("utf-8", "surrogateescape")).hexdigest()[:8]
        name, k = base, 1
        while name.lower() in used:  # case-insensitive file systems too
            k += 1
            name = f"{base}-{k}"
        used.add(name.lower())
        names[cell] = f"{name}.png"
    return names
