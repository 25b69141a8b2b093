"""``sras models package``: a trained run as a compact model folder with a card whose held-out numbers are measured
with the packaged files themselves, through the same path as ``sras predict`` (source images read, preprocessed as
trained, classified, each cell assigned).

The held-out cells are the run's own test part, read again from the data set's source images under the data root:
the card names the data set, how it was read and the cells, so anyone with the data can recompute every number.
"""

from __future__ import annotations

import csv
import dataclasses
import shutil
from pathlib import Path

import numpy as np

from sras_keras.configs.inference import ModelCard
from sras_keras.configs.records import (
    ClassifierMetrics,
    Environment,
    ExperimentRow,
    RunData,
    Splits,
    read_config,
    read_record,
    write_record,
)
from sras_keras.configs.train import TrainConfig
from sras_keras.core.errors import SrasError
from sras_keras.core.io import make_folder
from sras_keras.core.provenance import git_commit
from sras_keras.core.run_files import ENV, HISTORY, METRICS, ROW, size_evidence_file
from sras_keras.data.pipeline import load_manifest
from sras_keras.data.readers import read_image, scan_source
from sras_keras.evaluation.metrics import macro_f1
from sras_keras.inference.inputs import InputImage
from sras_keras.inference.karyotype import assign_cells
from sras_keras.inference.outputs import summarise
from sras_keras.inference.predict import with_size_evidence
from sras_keras.inference.predictor import Predictor, predict_files, training_data
from sras_keras.inference.shipped import copy_model_folder
from sras_keras.inference.views import batchnorm_layers

CARD_MARKDOWN = "MODEL_CARD.md"
# The ways of reading a cell that the card measures: (name, sras predict options, tta, cell_bn, size evidence)
VIEWS = (
    ("single view", "", False, False, False),
    ("mirror view + cell BatchNorm", "--tta --cell-bn", True, True, False),
    ("mirror view + cell BatchNorm + size evidence", "--tta --cell-bn --size-evidence", True, True, True),
)


def held_out_images(source_root: Path, card: ModelCard, cells=None) -> list[InputImage]:
    """The images of the card's held-out cells (or of ``cells``), read from the data set's source tree as the
    run's conversion read it, with their labels, in path order."""
    if not source_root.is_dir():
        raise SrasError(f"{source_root}: the data set {card.dataset} is not there (set SRAS_DATA_DIR or --data-root)")
    wanted = set(card.test_cells if cells is None else cells)
    _, sources = scan_source(source_root, card.layout, card.label_coding, card.cell_regex)
    images = []
    for source in sources:
        if source.cell_id in wanted:
            array, _ = read_image(source_root / source.path)
            images.append(InputImage(source.path, source.cell_id, source.label, array))
    missing = wanted - {image.cell_id for image in images}
    if missing:
        raise SrasError(f"{source_root}: no images of held-out cell(s) {', '.join(sorted(missing))}")
    return images


def measure(
    model_dir: Path, images: list[InputImage], batch_size: int = 64, progress: bool = False, views=VIEWS
) -> dict:
    """Each of ``views``' held-out numbers: per image (argmax), macro-F1, and each cell assigned as a whole."""
    predictor = Predictor(model_dir)
    prepared = [
        InputImage(image.name, image.cell_id, image.label, predictor.as_trained(image.array)) for image in images
    ]
    truth = np.array([image.label for image in images])
    results = {}
    for name, options, tta, cell_bn, size_evidence in views:
        if size_evidence and not (model_dir / size_evidence_file(tta, cell_bn)).is_file():
            continue  # not fitted for this view
        if cell_bn and not batchnorm_layers(predictor.model):
            continue
        probabilities = predict_files(predictor, prepared, batch_size, progress, tta, cell_bn)
        if size_evidence:
            probabilities, _ = with_size_evidence(
                model_dir, prepared, probabilities, predictor.preprocessing, None, tta, cell_bn
            )
        cells = assign_cells(probabilities, [image.cell_id for image in images])
        summary = summarise(prepared, probabilities, cells)
        results[name] = {
            "options": options,
            "images": summary["images"],
            "cells": summary["cells"],
            "accuracy": round(summary["accuracy_argmax"], 6),
            "macro_f1": round(macro_f1(truth, probabilities.argmax(1)), 6),
            "accuracy_assigned": round(summary["accuracy_assigned"], 6),
            "cells_all_assigned_right": summary["cells_all_assigned_right"],
            "sex_correct_cells": summary["sex_correct_cells"],
        }
    return results


def package_model(
    run_dir,
    out,
    *,
    name: str,
    title: str,
    band: str,
    intended_input: str,
    limits: tuple[str, ...],
    data_root,
    selection: str = "",
    batch_size: int = 64,
    progress: bool = False,
) -> ModelCard:
    """``run_dir`` as a model folder ``out`` (new): compact model, preprocessing, size-evidence fits, card."""
    run_dir, out, data_root = Path(run_dir), Path(out), Path(data_root)
    if out.exists() and any(out.iterdir()):
        raise SrasError(f"{out}: not empty; give a new folder")
    data = read_record(RunData, run_dir)
    data_dir = training_data(run_dir, data, "the card's held-out cells and how they were read are recorded there")
    manifest, splits = load_manifest(data_dir), read_record(Splits, data_dir)
    if data.protocol != "honest":
        raise SrasError(
            f"{run_dir}: chose its epoch on the test part ({data.protocol} protocol); a card's held-out numbers "
            "need a run that never saw them"
        )
    env = read_record(Environment, run_dir)
    row = read_record(ExperimentRow, run_dir) if (run_dir / ROW).is_file() else None
    # an experiment's process imports its code when it starts, before its rows: its folder's env.json names that code
    started = read_record(Environment, run_dir.parent) if row is not None and (run_dir.parent / ENV).is_file() else env
    metrics = read_record(ClassifierMetrics, run_dir) if (run_dir / METRICS).is_file() else None
    parts: dict[str, set[str]] = {}
    for image in splits.images:
        if not image.synthetic:
            parts.setdefault(image.part, set()).add(image.cell_id)
    dataset = Path(manifest.source.root).name
    card = ModelCard(
        name=name,
        title=title,
        band=band,
        intended_input=intended_input,
        limits=tuple(limits),
        selection=selection,
        dataset=dataset,
        layout=manifest.source.layout,
        label_coding=manifest.source.label_coding,
        cell_regex=manifest.source.cell_regex,
        data_checksum=manifest.source.checksum,
        recipe=run_dir.parent.parent.name if row else None,
        row=row.name if row else None,
        trained_commit=started.git_commit,
        packaged_commit=git_commit(),
        weights="float16",
        split={
            "scheme": splits.config.scheme,
            "seed": splits.config.seed,
            "grouped_by": splits.config.resolved().group_by,
            "cells": {part: len(cells) for part, cells in sorted(parts.items())},
            "validation_part": data.val,
        },
        test_cells=tuple(sorted(parts[data.test], key=_natural)),
        training=_training(run_dir, env, row, metrics),
        held_out={},
    )
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    make_folder(staging)
    copy_model_folder(run_dir, staging)
    images = held_out_images(data_root / dataset, card)
    card = dataclasses.replace(card, held_out=measure(staging, images, batch_size, progress))
    write_record(staging, card)
    (staging / CARD_MARKDOWN).write_text(card_markdown(card), encoding="utf-8")
    if out.exists():
        out.rmdir()
    staging.rename(out)
    return card


def _natural(cell: str):
    return (0, int(cell), "") if cell.isdigit() else (1, 0, cell)


def _training(run_dir: Path, env: Environment, row: ExperimentRow | None, metrics: ClassifierMetrics | None) -> dict:
    with open(run_dir / HISTORY, encoding="utf-8") as handle:
        monitored = [float(entry["val_accuracy"]) for entry in csv.DictReader(handle)]
    best = int(np.argmax(monitored))
    minutes = None
    if row is not None:
        minutes = round((row.wall_seconds + (row.pretrain_wall_seconds or 0.0)) / 60, 1)
    return {
        "epochs_trained": len(monitored),
        "best_epoch": best + 1 if metrics is None else metrics.best_epoch,
        "validation_accuracy": round(monitored[best], 6),
        "wall_minutes": minutes,
        "cpus": env.cpus,
        "gpus": len(env.gpus),
        "started_from": _start(run_dir),
    }


def _start(run_dir: Path) -> str:
    """Where training started: the backbone's weights, or the pretraining stage's data set."""
    model = read_config(TrainConfig, run_dir).model
    if model.init_from is None:
        return "random weights" if model.weights in (None, "none") else f"{model.weights} weights"
    stage = Path(model.init_from)
    stage = stage if stage.is_dir() else stage.parent
    try:
        manifest = load_manifest(read_record(RunData, stage).data_dir)
    except SrasError:
        return f"the model of {stage.name}"
    inverted = ", inverted" if manifest.config.invert else ""
    return f"a model trained first on {Path(manifest.source.root).name}{inverted}"


def card_markdown(card: ModelCard) -> str:
    """MODEL_CARD.md: the card for a reader, every number from card.json."""
    cells = card.split["cells"]
    lines = [
        f"# {card.name}: {card.title}",
        "",
        f"**Intended input.** {card.intended_input}",
        "",
        "    sras predict --model " + card.name + " CELL_FOLDERS... --karyotype --out OUT",
        "",
        "## Held-out numbers",
        "",
        f"Measured with these files on the {len(card.test_cells)} held-out cells of {card.dataset} "
        f"({next(iter(card.held_out.values()))['images']} images), which training never saw "
        '(the epoch was chosen on separate validation cells). "Per image" with no options is what the papers '
        'measure; the rest goes beyond them: "assigned", each cell\'s chromosomes assigned jointly to the 46 '
        "slots (`--karyotype`); the mirror view (`--tta`); cell BatchNorm (`--cell-bn`), each cell normalised "
        "with its own images' statistics, so a cell's images inform each other; size evidence (`--size-evidence`), "
        "each chromosome's size relative to its cell.",
        "",
        "| reading | options | per image | macro-F1 | assigned | cells all right | sex right |",
        "|---|---|---|---|---|---|---|",
    ]
    for view, scores in card.held_out.items():
        lines.append(
            f"| {view} | `{scores['options'] or '(none)'}` | {100 * scores['accuracy']:.2f}% | "
            f"{scores['macro_f1']:.4f} | {100 * scores['accuracy_assigned']:.2f}% | "
            f"{scores['cells_all_assigned_right']}/{scores['cells']} | "
            f"{scores['sex_correct_cells']}/{scores['cells']} |"
        )
    training = card.training
    lines += [
        "",
        "## Data and training",
        "",
        f"- Data: `{card.dataset}` (checksum `{card.data_checksum[:16]}`), read as {card.layout}; a "
        f"{card.split['scheme']} split grouped by {card.split['grouped_by']} (seed {card.split['seed']}): "
        + ", ".join(f"{count} {part} cells" for part, count in cells.items())
        + ".",
        f"- Held-out cells: {', '.join(card.test_cells)}.",
        f"- Recipe: `{card.recipe}`, row `{card.row}`; trained at commit `{card.trained_commit}`, packaged at "
        f"`{card.packaged_commit}`.",
        f"- Training: {training['epochs_trained']} epochs, kept epoch {training['best_epoch']} (validation accuracy "
        f"{100 * training['validation_accuracy']:.2f}%)"
        + (f", {training['wall_minutes']} min on {training['cpus']} CPU cores" if training["wall_minutes"] else "")
        + (" and a GPU" if training["gpus"] else "")
        + f"; started from {training['started_from']}.",
        *([f"- Chosen {card.selection}"] if card.selection else []),
        f"- Weights stored as {card.weights} (loaded as float32).",
        "",
        "## Limits",
        "",
        *[f"- {limit}" for limit in card.limits],
        "",
    ]
    return "\n".join(lines)
