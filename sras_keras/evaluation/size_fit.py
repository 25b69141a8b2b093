"""``sras size-evidence RUN``: fit cell-relative size evidence (inference/size_evidence.py) for a trained run.

The Gaussians come from the run's training cells, the weight from its validation part (the paper protocol's is its
test part, as for its checkpoint), and the test part is then scored once with and without the evidence: per image
(argmax), with whole-cell assignment, and sex per cell. Written to ``RUN/size_evidence.json`` (``_tta``,
``_cellbn``: one fit per kind of probabilities), which ``sras predict --size-evidence`` reads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sras_keras.configs.records import SizeEvidenceFit, write_record
from sras_keras.core.errors import SrasError
from sras_keras.core.provenance import environment
from sras_keras.core.run_files import size_evidence_file
from sras_keras.data.labels import CLASS_NAMES
from sras_keras.data.pipeline import load_splits
from sras_keras.evaluation.metrics import macro_f1
from sras_keras.inference.karyotype import assign_cells
from sras_keras.inference.outputs import summarise
from sras_keras.inference.predictor import Predictor, predict_records
from sras_keras.inference.size_evidence import SizeEvidence, source_relative_sizes


def fit_size_evidence(
    run_dir, min_cell_images: int = 10, progress: bool = False, tta: bool = False, cell_bn: bool = False
) -> SizeEvidenceFit:
    """Fit, choose the weight, score the test part; writes and returns ``RUN/size_evidence.json``
    (``size_evidence_tta.json`` for ``tta``: the model's probabilities averaged with the mirror view's; ``_cellbn``
    for ``cell_bn``: each cell normalised with its own statistics)."""
    run_dir = Path(run_dir)
    predictor = Predictor(run_dir)
    preprocessing = predictor.preprocessing
    data_dir = Path(predictor.run_data.data_dir)
    splits = load_splits(data_dir)
    validation_part = splits.validation_part
    if "test" not in splits.counts or validation_part is None:
        raise SrasError(
            f"{data_dir}: size evidence needs a split with a test part and a validation part "
            "(holdout or paper), not K folds"
        )
    sizes = source_relative_sizes(
        data_dir, preprocessing.background, preprocessing.threshold, min_cell_images, progress
    )
    train = [(size, CLASS_NAMES.index(name)) for size, name, part in sizes.values() if part == "train"]
    evidence = SizeEvidence.fit([s for s, _ in train], [k for _, k in train], len(CLASS_NAMES), min_cell_images)

    def scored(part):
        images, probabilities = predict_records(predictor, data_dir, [part], tta=tta, cell_bn=cell_bn)
        # the paper protocol's test part holds SMOTE images (as its metrics count them): no size evidence for them
        return images, probabilities, np.array([sizes.get(image.name, (np.nan,))[0] for image in images])

    images, probabilities, relative = scored(validation_part)
    evidence, tried = evidence.choose_weight(probabilities, relative, [image.label for image in images])
    if validation_part != "test":
        images, probabilities, relative = scored("test")
    truth = np.array([image.label for image in images])
    cell_ids = [image.cell_id for image in images]
    test = {}
    for name, weight in (("without", 0.0), ("with", evidence.weight)):
        fused = evidence.fuse(probabilities, relative, weight)
        summary = summarise(images, fused, assign_cells(fused, cell_ids))
        test[name] = {
            **{
                key: summary[key]
                for key in (
                    "accuracy_argmax",
                    "accuracy_assigned",
                    "sex_correct_cells",
                    "sex_cells",
                    "cells_all_assigned_right",
                )
            },
            "macro_f1_argmax": macro_f1(truth, fused.argmax(1)),
        }
    fit = SizeEvidenceFit(
        evidence=evidence.to_dict(),
        tta=tta,
        cell_bn=cell_bn,
        weight_chosen_on=validation_part,
        weight_chosen_on_test_set=validation_part == "test",
        validation_by_weight=tried,
        test_images=len(images),
        test_cells=len(set(cell_ids)),
        # an image-level split (the paper's) leaves pieces of cells in the test part: assignment means little
        test_cells_whole=splits.config.resolved().group_by == "cell",
        images_without_size_evidence=int(np.isnan(relative).sum()),
        test=test,
        env=environment(data_checksum=splits.source.checksum),
    )
    write_record(run_dir / size_evidence_file(tta, cell_bn), fit)
    return fit
