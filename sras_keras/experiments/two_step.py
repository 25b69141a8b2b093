"""What the two-step transfer-learning recipes share (Sci. Rep. 2026, "Materials and methods"): the bands, the
three approaches, the paper settings and their CPU-scale stand-ins.

The paper settings (``paper``; docs/fidelity.md lists what differs): stratified 5-fold CV per band; every image padded
to a square and resized bilinearly to 256 px; random horizontal/vertical flips and Gaussian blur on training folds only;
80 epochs of a two-stage optimisation, Adam then SGD; the checkpoint with the best held-out-fold accuracy is kept
(``protocol=paper``), beside the honest variant that selects on another fold (``kfold_validation="next_fold"``). The
per-family batch sizes, learning rates and stage lengths are in the paper's Supplementary Information, which our copy
lacks: Adam 1e-4 for 40 epochs, then SGD (momentum 0.9) 1e-3 for 40, batch 32, stand in for all families. Two-step:
ImageNet weights, fine-tuned on the other band (a cell-grouped 80/10/10 split of it, best validation epoch), head
replaced, then fine-tuned on the target fold. Our G band is `gband65` (2,806 images, 65 cells), standing in for the
study's CIR set (2,986 images, 65 cells), which cannot be had here. We crop each image to its chromosome before padding
(the paper pads the raw crop with black): on BioImLab, 1,219 images sit on fixed 100x200 canvases whose size would
otherwise leak the cell, and padding G-band's white background with black would add an edge the Q band never has.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from sras_keras.configs.convert import ConvertConfig, SplitConfig
from sras_keras.configs.train import (
    AugmentationConfig,
    DataConfig,
    ModelConfig,
    OptimizationConfig,
    RuntimeConfig,
    TrainConfig,
)
from sras_keras.experiments.spec import Pretrain, Row
from sras_keras.models.tl_architectures import TL_ARCHITECTURES

APPROACHES = ("scratch", "imagenet", "two_step")
APPROACH_LABEL = {"scratch": "From scratch", "imagenet": "ImageNet PT", "two_step": "Two-step TL"}


@dataclasses.dataclass(frozen=True)
class Band:
    name: str
    label: str
    source: str
    cell_regex: str | None = None


BANDS = {
    "G": Band("G", "G-band (gband65, for CIR)", "gband65", r"_([^_]+)$"),
    "Q": Band("Q", "Q-band (BioImLab)", "bioimlab"),
}
INTERMEDIATE = {"Q": "G", "G": "Q"}  # each band is the other's intermediate domain
PROTOCOL_VALIDATION = {"paper": "test_fold", "honest": "next_fold"}

PAPER_CONVERT = ConvertConfig(preprocess="square_resize", image_size=256, split=SplitConfig("kfold", seed=0, folds=5))
PAPER_TRAIN = TrainConfig(
    model=ModelConfig(weights="none", dropout=None, head="native"),
    data=DataConfig(rotated_copies=False, synthetic=False),
    augmentation=AugmentationConfig(flip="both", blur=2.0),
    optimization=OptimizationConfig(
        batch_size=32,
        epochs=80,
        learning_rate=1e-4,
        optimizer="adam_then_sgd",
        sgd_epoch=40,
        sgd_learning_rate=1e-3,
        patience=80,
    ),
    runtime=RuntimeConfig(mixed_precision=True),
)
# CPU: 64 px, 6 epochs (3 Adam + 3 SGD), a time budget per fold. No ImageNet weights can be fetched offline, so the
# cpu config's two-step runs start their intermediate stage from scratch: scratch -> other band -> target.
# BatchNorm momentum 0.9 (PyTorch's 0.1): the ~200 steps of a cpu fold leave Keras' 0.99-0.999 moving statistics far
# from the batches', and MobileNetV3-L then sat at chance on validation whatever it learned (see
# set_batchnorm_momentum).
CPU_CONVERT = dataclasses.replace(PAPER_CONVERT, image_size=64)
CPU_TRAIN = PAPER_TRAIN.replace(
    batch_size=64,
    epochs=6,
    learning_rate=1e-3,
    patience=6,
    sgd_epoch=3,
    sgd_learning_rate=1e-2,
    blur=1.0,
    mixed_precision=False,
    max_minutes=4,
    batchnorm_momentum=0.9,
)
# The intermediate stage: a cell-grouped 80/10/10 split of the other band, its validation cells pick the epoch.
PRETRAIN_SPLIT = SplitConfig("holdout", seed=0, val_fraction=0.1, test_fraction=0.1)


def imagenet_weights(registry: str, keras_imagenet: bool) -> str:
    """Keras' own ImageNet weights where it has them; otherwise a local file, ``$SRAS_WEIGHTS_DIR/<name>.weights.h5``
    (default ``~/.keras/models/sras``), made from the architecture's PyTorch checkpoint by `sras weights convert`."""
    if keras_imagenet:
        return "imagenet"
    folder = Path(os.environ.get("SRAS_WEIGHTS_DIR", Path.home() / ".keras" / "models" / "sras"))
    return str(folder / f"{registry}.weights.h5")


def convert_for(band: Band, base: ConvertConfig, split: SplitConfig | None = None) -> ConvertConfig:
    return dataclasses.replace(base, cell_regex=band.cell_regex, split=split or base.split)


def make_row(
    study_name: str,
    approach: str,
    band_name: str,
    protocol: str,
    *,
    convert: ConvertConfig,
    train: TrainConfig,
    imagenet: bool,
) -> Row:
    """One (architecture, approach, band, protocol) cell of Table 2, as five folds. ``imagenet=False`` (cpu):
    no ImageNet weights exist here, so ``two_step`` starts its intermediate stage from scratch."""
    architecture = TL_ARCHITECTURES[study_name]
    band, intermediate = BANDS[band_name], BANDS[INTERMEDIATE[band_name]]
    start = imagenet_weights(architecture.registry, architecture.keras_imagenet) if imagenet else "none"
    train = train.replace(
        backbone=architecture.registry,
        kfold_validation=PROTOCOL_VALIDATION[protocol],
        weights=start if approach == "imagenet" else "none",
    )
    pretrain = None
    if approach == "two_step":
        pretrain = Pretrain(
            intermediate.source,
            convert_for(intermediate, convert, PRETRAIN_SPLIT),
            train.replace(weights=start, kfold_validation="test_fold"),
        )
    folds = tuple(range(convert.split.folds))
    label = f"{study_name}, {APPROACH_LABEL[approach]}{'' if imagenet or approach != 'two_step' else ' (no ImageNet)'}"
    return Row(
        name=f"{architecture.registry}-{approach}-{band_name}-{protocol}",
        label=f"{label}, {band.label}",
        convert=convert_for(band, convert),
        train=train,
        protocol=protocol,
        source=band.source,
        folds=folds,
        pretrain=pretrain,
        tags=(("architecture", study_name), ("band", band_name), ("approach", approach), ("protocol", protocol)),
    )
