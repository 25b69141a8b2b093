"""``sras predict``: a trained run on a user's own chromosome images, optionally as whole-cell karyotypes.

The preprocessing is the one the run was trained with, read from the run's dataset manifest (IAM or resize, size,
background, threshold) and, when that dataset was made from SRAFBN-upscaled images, the same SR model first.
Unreadable images are skipped and listed; the rest are still predicted.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import json
import re
import time
from pathlib import Path

import numpy as np

from sras_keras.data.labels import CLASS_NAMES, Y_INDEX, parse_label
from sras_keras.data.readers import _BIOIMLAB_NAME, IMAGE_EXTENSIONS, detect_layout, display_path, read_image
from sras_keras.errors import SrasError
from sras_keras.io_utils import atomic_path, write_json_atomic

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 100  # characters of a cell id kept in its karyogram's file name


@dataclasses.dataclass
class InputImage:
    name: str  # as given, for the outputs
    cell_id: str
    label: int | None  # known from the layout (BioImLab names, class folders, TFRecords), else None
    array: np.ndarray | None = None  # (H, W) uint8, None for TFRecord inputs (already preprocessed)


def run_preprocessing(run_dir: Path) -> dict:
    """What a run's inputs went through: its dataset manifest's settings and the SR model, if any."""
    from sras_keras.data.pipeline import background_level

    for name in ("config.json", "data.json"):
        if not (run_dir / name).is_file():
            raise SrasError(f"{run_dir}: no {name}, so the preprocessing it was trained with is unknown; "
                            "give the folder of a `sras train` run")
    data = json.loads((run_dir / "data.json").read_text())
    manifest_path = Path(data["data_dir"]) / "manifest.json"
    if not manifest_path.is_file():
        raise SrasError(f"{run_dir}: its training data {data['data_dir']} is gone (no manifest.json); the "
                        "preprocessing settings live there")
    manifest = json.loads(manifest_path.read_text())
    config = manifest["config"]
    sr_record = Path(manifest["source"]["root"]) / "sr_apply.json"
    sr_model = json.loads(sr_record.read_text())["model"] if sr_record.is_file() else None
    return {"preprocess": config["preprocess"], "image_size": manifest["image_size"], "threshold": config["threshold"],
            "placement": config["placement"], "magnify": config.get("magnify", 1.0), "background": background_level(manifest),
            "invert": config.get("invert", False),
            "canvas": manifest["canvas"], "sr_model": sr_model, "data_dir": data["data_dir"]}


def gather_inputs(paths: list[Path], cell_regex: str | None = None) -> tuple[list[InputImage], list[tuple[str, str]]]:
    """Image files, flat folders (one cell each), folders of cell folders (BioImLab layout) or of class folders.

    Returns (readable images, [(path, reason) skipped]). Cells come from ``cell_regex`` (its group ``cell`` or
    first group, matched on the file stem) when given, else from the enclosing folder."""
    pattern = re.compile(cell_regex) if cell_regex else None
    found: list[tuple[Path, str, int | None]] = []
    for path in paths:
        if path.is_file():
            found.append((path, path.parent.name, _bioimlab_label(path)))
        elif path.is_dir():
            found.extend(_folder_images(path))
        else:
            raise SrasError(f"{path}: no such file or folder")
    if not found:
        raise SrasError(f"{', '.join(map(str, paths))}: no images ({', '.join(IMAGE_EXTENSIONS)}) found")
    if pattern is None:
        _check_distinct_cells(found)
    images, skipped = [], []
    for file, cell, label in found:
        name = display_path(file)  # printable even for non-UTF-8 names; outputs are UTF-8 text
        if pattern is not None:
            match = pattern.search(file.stem)
            if not match:
                skipped.append((name, f"--cell-regex {cell_regex!r} does not match its name"))
                continue
            cell = match.group("cell") if "cell" in pattern.groupindex else match.group(1)
        try:
            array, _ = read_image(file)
        except SrasError as error:
            skipped.append((name, str(error).removeprefix(f"{name}: ")))
            continue
        images.append(InputImage(name, display_path(cell), label, array))
    return images, skipped


def _check_distinct_cells(found: list[tuple[Path, str, int | None]]) -> None:
    """A cell named after its folder must come from one folder: `a/1` and `b/1` are two cells, not one of 92."""
    folders: dict[str, set[Path]] = {}
    for file, cell, _ in found:
        if cell:
            folders.setdefault(cell, set()).add(file.parent.resolve())
    for cell, where in sorted(folders.items()):
        if len(where) > 1:
            shown = ", ".join(display_path(folder) for folder in sorted(where))
            raise SrasError(f"cell {display_path(cell)!r} names {len(where)} different folders ({shown}); their "
                            "images would merge into one cell: rename the folders or predict them separately")


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                  and not p.name.startswith("."))


def _folder_images(root: Path) -> list[tuple[Path, str, int | None]]:
    subfolders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subfolders:
        return [(file, root.name, _bioimlab_label(file)) for file in _images_in(root)]
    labels = {folder: _label_or_none(folder.name) for folder in subfolders}
    # Class folders (their cells must come from --cell-regex), unless BioImLab's numbered cell folders.
    if detect_layout(root) != "bioimlab" and all(label is not None for label in labels.values()):
        return [(file, "", labels[folder]) for folder in subfolders for file in _images_in(folder)]
    return [(file, folder.name, _bioimlab_label(file)) for folder in subfolders for file in _images_in(folder)]


def _bioimlab_label(file: Path) -> int | None:
    """BioImLab's '<cell> <class>[ab].bmp' names carry the label; other names none."""
    match = _BIOIMLAB_NAME.match(file.name)
    return _label_or_none(match.group(2)) if match else None


def _label_or_none(text: str) -> int | None:
    try:
        return parse_label(text)
    except SrasError:
        return None


class Predictor:
    """A run's model with the preprocessing it was trained with."""

    def __init__(self, run_dir: Path):
        import tensorflow as tf

        from sras_keras.data.iam import final_image
        from sras_keras.evaluation.classifier import load_classifier
        from sras_keras.training.run_dir import FINAL

        self.settings = run_preprocessing(run_dir)
        self.model = load_classifier(run_dir / FINAL)
        s = self.settings
        self.prepare_one = tf.function(  # one traced graph for every image size, not eager ops per image
            final_image(s["preprocess"], s["image_size"], s["background"], s["threshold"], s["placement"],
                        s["magnify"]),
            input_signature=[tf.TensorSpec([None, None], tf.uint8)])
        self.sr_model = None
        if self.settings["sr_model"]:
            from sras_keras.sr_apply import compiled_forward
            from sras_keras.training.sr import load_sr_model

            if not Path(self.settings["sr_model"]).is_file():
                raise SrasError(f"{run_dir}: trained on SRAFBN-upscaled images, but the SR model "
                                f"{self.settings['sr_model']} is missing")
            self.sr_model = load_sr_model(self.settings["sr_model"])
            self.sr_forward = compiled_forward(self.sr_model)  # traced once, not per batch

    def as_trained(self, array: np.ndarray) -> np.ndarray:
        """A user's image as the run's conversion read its sources: inverted for an ``--invert`` run."""
        return 255 - array if self.settings["invert"] else array

    def prepare(self, arrays: list[np.ndarray]) -> np.ndarray:
        """(H, W) uint8 images -> the model's (B, S, S, 1) float32 input."""
        return self.place(self.upscale(arrays))

    def upscale(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """The run's SR model on each image, if it was trained on upscaled images; else the images as they are."""
        from sras_keras.sr_apply import crop_with_margin, upscale_batch

        if self.sr_model is None:
            return arrays
        background = self.settings["background"]
        crops = [crop_with_margin(a, background) for a in arrays]
        return upscale_batch(self.sr_model, self.sr_forward, crops, [background] * len(crops))

    def place(self, arrays: list[np.ndarray]) -> np.ndarray:
        """(Upscaled) images -> the model's input: IAM or resize, as in training."""
        return np.stack([self.prepare_one(a).numpy() for a in arrays]).astype(np.float32)

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_on_batch(batch))

    def view_probabilities(self, views: list[np.ndarray], adapt: bool = False) -> np.ndarray:
        """One batch's probabilities, seen as each of ``views`` (the model inputs; with TTA also their mirror images,
        combined by ``with_mirror_view``); ``adapt``: the batch is one whole cell, normalised with its own BatchNorm
        statistics over every view (``cell_norm``)."""
        from sras_keras.cell_norm import cell_statistics

        with cell_statistics(self.model, np.concatenate(views)) if adapt else contextlib.nullcontext():
            probabilities = [self.probabilities(view) for view in views]
        return probabilities[0] if len(probabilities) == 1 else with_mirror_view(*probabilities)


def with_mirror_view(original: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """Test-time augmentation: the normalised geometric mean of the probabilities of an image and of its left-right
    mirror image (the models train on random mirrorings). On the headline's validation cells it gained 2-3 of
    506 images for both training seeds; the two rotations by 15 degrees did not add consistently."""
    log_mean = (np.log(np.maximum(original, 1e-30)) + np.log(np.maximum(mirrored, 1e-30))) / 2
    combined = np.exp(log_mean - log_mean.max(axis=1, keepdims=True))
    return combined / combined.sum(axis=1, keepdims=True)


def prediction_groups(images: list[InputImage], batch_size: int, cell_bn: bool) -> list[tuple[np.ndarray, bool]]:
    """The images' indices in the groups predicted together, each with whether it is adapted: batches, or with
    ``cell_bn`` every cell of at least ``MIN_CELL_IMAGES`` images as one adapted group (the rest in batches)."""
    from sras_keras.cell_norm import cell_groups

    return cell_groups([image.cell_id if cell_bn else "" for image in images], batch_size)


def predict_files(predictor: Predictor, images: list[InputImage], batch_size: int = 64, progress: bool = False,
                  tta: bool = False, cell_bn: bool = False):
    """``tta``: also the mirror image of each chromosome (``with_mirror_view``); ``cell_bn``: each cell normalised
    with its own statistics (``cell_norm``)."""
    from tqdm import tqdm

    probabilities = [None] * len(images)
    for indices, adapt in tqdm(prediction_groups(images, batch_size, cell_bn), unit="batch", disable=not progress):
        arrays = predictor.upscale([images[k].array for k in indices])
        # The mirror view after SR, as an SR dataset's records are mirrored; IAM crops to the foreground, so
        # mirroring the whole image mirrors the crop before placement.
        views = [predictor.place(arrays)] + ([predictor.place([a[:, ::-1] for a in arrays])] if tta else [])
        for k, row in zip(indices, predictor.view_probabilities(views, adapt)):
            probabilities[k] = row
    return np.stack(probabilities)


def predict_records(predictor: Predictor, data_dir: Path, parts: list[str] | None, batch_size: int = 64,
                    tta: bool = False, cell_bn: bool = False):
    """Records of a converted dataset made with the run's own preprocessing (the held-out cells, say); ``tta``: also
    their mirror images (``with_mirror_view``); ``cell_bn``: each cell with its own statistics (``cell_norm``)."""
    from sras_keras.data.pipeline import load_manifest, make_dataset

    manifest = load_manifest(data_dir)
    s = predictor.settings
    if (manifest["image_size"], manifest["canvas"], manifest["config"]["preprocess"],
            manifest["config"].get("magnify", 1.0)) != (s["image_size"], s["canvas"], s["preprocess"], s["magnify"]):
        raise SrasError(f"{data_dir}: converted with other preprocessing than the run's training data "
                        f"({s['data_dir']}); predict on the source images instead")
    parts = parts or manifest["parts"]
    images, views = [], []
    for part in parts:
        datasets = [make_dataset(data_dir, part, batch_size=batch_size, rotations=False, synthetic=False,
                                 with_metadata=True, autotune=False, mirror=mirror)
                    for mirror in ((False, True) if tta else (False,))]
        for (batch, labels, meta), *mirrored in zip(*datasets):
            views.append([batch.numpy()] + [view[0].numpy() for view in mirrored])
            images.extend(InputImage(path.decode(), cell.decode(), int(label))
                          for path, cell, label in zip(meta["source_path"].numpy(), meta["cell_id"].numpy(),
                                                       labels.numpy()))
    if not cell_bn:  # the batches as read
        return images, np.concatenate([predictor.view_probabilities(batch_views) for batch_views in views])
    views = [np.concatenate(view) for view in zip(*views)]
    probabilities = np.zeros((len(images), len(CLASS_NAMES)))
    for indices, adapt in prediction_groups(images, batch_size, cell_bn):
        probabilities[indices] = predictor.view_probabilities([view[indices] for view in views], adapt)
    return images, probabilities


def karyotype_cells(images: list[InputImage], probabilities: np.ndarray) -> dict:
    from sras_keras.karyotype import assign_cells

    if any(image.cell_id == "" for image in images):
        raise SrasError("--karyotype needs each image's cell: give cell folders, or --cell-regex for class folders")
    return assign_cells(probabilities, [image.cell_id for image in images])


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


def write_outputs(out: Path, images, probabilities, skipped, cells, summary, background: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    assigned = _assigned_per_image(images, cells) if cells is not None else None
    with atomic_path(out / "predictions.csv") as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "cell_id", "true", "top1", "p_top1", "top2", "p_top2", "top3", "p_top3"]
                        + (["assigned", "p_assigned"] if cells is not None else []))
        for k, (image, probs) in enumerate(zip(images, probabilities)):
            top = np.argsort(-probs)[:3]
            row = [image.name, image.cell_id, CLASS_NAMES[image.label] if image.label is not None else ""]
            row += [value for c in top for value in (CLASS_NAMES[c], f"{probs[c]:.6f}")]
            if assigned is not None:
                row += [CLASS_NAMES[assigned[k]] if assigned[k] >= 0 else "", f"{probs[max(assigned[k], 0)]:.6f}"]
            writer.writerow(row)
    if skipped:
        with atomic_path(out / "skipped.csv") as temporary, open(temporary, "w", newline="") as handle:
            csv.writer(handle).writerows([("file", "reason"), *skipped])
    if cells is not None:
        write_json_atomic(out / "karyotypes.json", {cell: result.to_dict() for cell, result in cells.items()})
        _karyograms(out / "karyograms", images, cells, background)
    write_json_atomic(out / "summary.json", summary)


def _karyograms(folder: Path, images, cells, background: int) -> None:
    from sras_keras.data.iam import crop_to_foreground
    from sras_keras.evaluation.karyogram import karyogram_figure

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


def with_size_evidence(run_dir: Path, images: list[InputImage], probabilities: np.ndarray, settings: dict,
                       record_dir: Path | None, tta: bool = False, cell_bn: bool = False) -> tuple[np.ndarray, float]:
    """The probabilities fused with the run's cell-relative size evidence (``sras size-evidence``, fitted with the
    same ``tta`` and ``cell_bn``: the weight was chosen for those probabilities), and its weight."""
    from sras_keras.evaluation.size_fit import load_size_evidence, source_relative_sizes
    from sras_keras.size_evidence import foreground_area, relative_log_sizes

    evidence = load_size_evidence(run_dir, tta, cell_bn)
    if any(image.cell_id == "" for image in images):
        raise SrasError("--size-evidence needs each image's cell: give cell folders, or --cell-regex for class folders")
    if record_dir is not None:
        sizes = source_relative_sizes(record_dir, settings["background"], settings["threshold"],
                                      evidence.min_cell_images)
        relative = np.array([sizes.get(image.name, (np.nan,))[0] for image in images])  # SMOTE's: none
    else:
        areas = [foreground_area(image.array, settings["background"], settings["threshold"]) for image in images]
        relative = relative_log_sizes(areas, [image.cell_id for image in images], evidence.min_cell_images)
    return evidence.fuse(probabilities, relative), evidence.weight


def predict(run_dir, inputs: list, out, *, karyotype: bool = False, size_evidence: bool = False, tta: bool = False,
            cell_bn: bool = False, cell_regex: str | None = None, parts: list[str] | None = None,
            batch_size: int = 64, progress: bool = False) -> dict:
    """Predict ``inputs`` (files and folders, or one converted dataset) with the run in ``run_dir``; writes
    ``predictions.csv``, ``summary.json`` and, with ``karyotype``, ``karyotypes.json`` and karyogram PNGs.
    ``size_evidence``: the probabilities (and so everything after them) include the run's size evidence.
    ``tta``: each chromosome is also seen mirrored (``with_mirror_view``). ``cell_bn``: each cell normalised with its
    own BatchNorm statistics (``cell_norm``)."""
    run_dir, out, inputs = Path(run_dir), Path(out), [Path(p) for p in inputs]
    predictor = Predictor(run_dir)
    if cell_bn:
        from sras_keras.cell_norm import batchnorm_layers

        if not batchnorm_layers(predictor.model):
            raise SrasError(f"{run_dir}: its model has no BatchNorm layer, so --cell-bn does not apply")
    started = time.perf_counter()  # throughput: read, preprocess, predict, assign; model load and writes excluded
    skipped: list[tuple[str, str]] = []
    record_dir = inputs[0] if len(inputs) == 1 and (inputs[0] / "manifest.json").is_file() else None
    if record_dir is not None:
        images, probabilities = predict_records(predictor, record_dir, parts, batch_size, tta, cell_bn)
    else:
        images, skipped = gather_inputs(inputs, cell_regex)
        if not images:
            raise SrasError(f"none of the {len(skipped)} images could be read (first: {skipped[0][0]}: {skipped[0][1]})")
        images = [dataclasses.replace(image, array=predictor.as_trained(image.array)) for image in images]
        probabilities = predict_files(predictor, images, batch_size, progress, tta, cell_bn)
    if size_evidence:
        image_only = probabilities
        probabilities, weight = with_size_evidence(run_dir, images, probabilities, predictor.settings, record_dir, tta,
                                                   cell_bn)
    cells = karyotype_cells(images, probabilities) if karyotype else None
    seconds = time.perf_counter() - started
    summary = summarise(images, probabilities, cells)
    if size_evidence:
        summary["size_evidence_weight"] = weight
        if "accuracy_argmax" in summary:
            summary["accuracy_argmax_image_only"] = summarise(images, image_only, None)["accuracy_argmax"]
    summary.update({"run": str(run_dir), "tta": tta, "cell_bn": cell_bn, "skipped": len(skipped),
                    "seconds": round(seconds, 2), "cells_per_minute": round(summary["cells"] / seconds * 60, 2)})
    write_outputs(out, images, probabilities, skipped, cells, summary, predictor.settings["background"])
    return summary
