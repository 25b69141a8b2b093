"""``sras train``: the classifier's training config (``TrainConfig``), in sections, and the choices its fields take.

A training run is five concerns, each its own dataclass that checks itself: ``model`` (what is built), ``data``
(which stored images train, in which batches), ``augmentation`` (what is done to them on the fly), ``optimization``
(optimizer, schedule, loss, early stopping) and ``runtime`` (seed, precision, devices, time budget). Functions take
the section they need. Field names are unique across the sections, so ``TrainConfig.replace(epochs=3)`` and
``--set train.epochs=3`` name a field without its section.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from sras_keras.configs.checks import check_types, choose
from sras_keras.core.errors import SrasError

SCHEDULES = ("constant", "cosine")
OPTIMIZERS = ("adam", "adam_then_sgd")  # the two-step study's two-stage optimisation: Adam, then SGD
KFOLD_VALIDATION = ("test_fold", "next_fold")  # paper: select on the held-out fold; honest: on another fold
FLIPS = ("none", "horizontal", "both")  # random mirroring: left-right, or also up-down
MONITORS = ("val_accuracy", "val_cell_accuracy")
HEADS = ("sras", "native")
STRATEGIES = ("auto", "mirrored", "multiworker")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The classifier that is built: a registered backbone, its start and its head."""

    backbone: str = "inception_resnet_v2"
    weights: str = "imagenet"  # "imagenet", "none" or a local weights file
    dropout: float | None = 0.5  # None: the architecture's own (native heads)
    head: str = "sras"  # "sras": pooling, dropout, softmax; "native": the architecture's own classifier head
    init_from: str | None = None  # a trained classifier (.keras) whose backbone weights start this run (two-step)
    batchnorm_momentum: float | None = None  # every BatchNorm layer's moving-average momentum; None: the model's own

    def __post_init__(self):
        check_types(self)
        choose("head", self.head, HEADS)
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise SrasError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.batchnorm_momentum is not None and not 0.0 <= self.batchnorm_momentum < 1.0:
            raise SrasError(f"batchnorm_momentum must be in [0, 1), got {self.batchnorm_momentum}")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Which of a converted dataset's stored images train, and how batches are drawn from them."""

    rotated_copies: bool = True  # train on the rotated copies the dataset holds (ConvertConfig.rotations: how many)
    synthetic: bool = True  # train on the SMOTE images the dataset holds
    max_rotation: float | None = None  # train only on stored copies within this many degrees of upright
    fold: int | None = None  # K-fold datasets: the held-out fold (validation and test, as the two-step study)
    kfold_validation: str = "test_fold"  # or "next_fold": validate on fold k+1, train on the other K-2 (honest)
    shuffle_buffer: int = 8192
    cell_batches: bool = False  # each training batch from one cell, BatchNorm on per-cell statistics (as --cell-bn)

    def __post_init__(self):
        check_types(self)
        choose("kfold_validation", self.kfold_validation, KFOLD_VALIDATION)
        if self.max_rotation is not None and not 0 <= self.max_rotation <= 180:
            raise SrasError(f"max_rotation must be in [0, 180] degrees, got {self.max_rotation}")
        if self.fold is not None and self.fold < 0:
            raise SrasError(f"fold must be >= 0, got {self.fold}")
        if self.shuffle_buffer < 1:
            raise SrasError(f"shuffle_buffer must be at least 1, got {self.shuffle_buffer}")


@dataclasses.dataclass(frozen=True)
class AugmentationConfig:
    """Random changes of training images on the fly; none is in SRAS-net's paper (all off by default)."""

    flip: str = "none"  # random mirroring of training images (FLIPS)
    blur: float = 0.0  # random Gaussian blur, sigma up to this (0: off; the two-step study)
    contrast: float = 0.0  # random contrast about the background, x up to 1 + this (0: off)
    zoom: float = 0.0  # random zoom of training canvases about their anchor, x up to 1 + this (0: off)

    def __post_init__(self):
        check_types(self)
        choose("flip", self.flip, FLIPS)
        for name in ("blur", "contrast", "zoom"):
            if getattr(self, name) < 0:
                raise SrasError(f"{name} must be >= 0 (0: off), got {getattr(self, name)}")


@dataclasses.dataclass(frozen=True)
class OptimizationConfig:
    """Optimizer, learning-rate schedule, loss and early stopping. Defaults are SRAS-net's section 4.3: Adam 5e-4,
    batch 40, at most 100 epochs, early stopping on validation accuracy with patience 21 (best weights restored)."""

    batch_size: int = 40  # global: split over the replicas of a tf.distribute strategy
    epochs: int = 100
    learning_rate: float = 5e-4
    schedule: str = "constant"  # or "cosine": one warm-up epoch, then cosine decay to zero at `epochs`
    optimizer: str = "adam"  # or "adam_then_sgd": Adam until `sgd_epoch`, then SGD with momentum 0.9
    sgd_epoch: int = 0  # first epoch (0-based) of the SGD stage of "adam_then_sgd"
    sgd_learning_rate: float = 1e-3
    weight_decay: float = 0.0  # decoupled (AdamW-style) decay of every weight, times the learning rate (paper: 0)
    label_smoothing: float = 0.0  # share of each target spread over the 24 classes (paper: 0)
    monitor: str = "val_accuracy"  # or "val_cell_accuracy": each validation cell with its own BatchNorm statistics
    patience: int = 21

    def __post_init__(self):
        check_types(self)
        choose("monitor", self.monitor, MONITORS)
        choose("schedule", self.schedule, SCHEDULES)
        choose("optimizer", self.optimizer, OPTIMIZERS)
        for name in ("batch_size", "epochs", "patience"):
            if getattr(self, name) < 1:
                raise SrasError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("learning_rate", "sgd_learning_rate"):
            if getattr(self, name) <= 0:
                raise SrasError(f"learning rates must be > 0, got {name} {getattr(self, name)}")
        if self.weight_decay < 0:
            raise SrasError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise SrasError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.schedule == "cosine" and self.epochs < 2:
            raise SrasError("the cosine schedule needs at least 2 epochs (one of them warms up)")
        if self.optimizer == "adam_then_sgd" and not 0 < self.sgd_epoch < self.epochs:
            raise SrasError(
                f"adam_then_sgd needs 0 < sgd_epoch < epochs; got sgd_epoch={self.sgd_epoch}, epochs={self.epochs}"
            )


@dataclasses.dataclass(frozen=True)
class RuntimeConfig:
    """Where and how long a run computes; the seed makes it repeatable on one machine."""

    seed: int = 0
    mixed_precision: bool = False  # float16 on GPUs, bfloat16 on CPUs (training/distribute.py)
    strategy: str = "auto"  # tf.distribute: auto | mirrored | multiworker (TF_CONFIG)
    max_minutes: float | None = None  # stop after the epoch that crosses this budget

    def __post_init__(self):
        check_types(self)
        choose("strategy", self.strategy, STRATEGIES)
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise SrasError(f"max_minutes must be > 0, got {self.max_minutes}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """``sras train``: one dataclass per concern (see the module docstring)."""

    # config.json's layout. 2: `rotations` became `rotated_copies` and `scale` became `zoom` (each name had a
    # second meaning: ConvertConfig's rotation count, SRTrainConfig's SR factor). 3: the fields in sections.
    FORMAT_VERSION: ClassVar[int] = 3

    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    augmentation: AugmentationConfig = AugmentationConfig()
    optimization: OptimizationConfig = OptimizationConfig()
    runtime: RuntimeConfig = RuntimeConfig()

    def replace(self, **changes) -> TrainConfig:
        """This config with fields changed by name (``epochs=3, max_minutes=5``), each routed to its section and
        each section's changes made at once, so a section checks the combination (``epochs`` with
        ``sgd_epoch``), not each change alone. A section's name takes a whole section."""
        by_section: dict[str, dict] = {}
        for name, value in changes.items():
            if name in SECTIONS:
                by_section.setdefault(name, {})["__whole__"] = value
            else:
                by_section.setdefault(section_of(name), {})[name] = value
        sections = {}
        for section, fields in by_section.items():
            whole = fields.pop("__whole__", getattr(self, section))
            sections[section] = dataclasses.replace(whole, **fields) if fields else whole
        return dataclasses.replace(self, **sections)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, document: dict) -> TrainConfig:
        unknown = set(document) - set(SECTIONS)
        if unknown:
            raise ValueError(f"unknown section(s) {', '.join(sorted(unknown))}")
        return cls(**{name: SECTIONS[name](**fields) for name, fields in document.items()})

    @staticmethod
    def upgrade(document: dict, version: int) -> dict:
        """A config.json of an older ``version`` in this version's layout."""
        if version < 2:
            renamed = {"rotations": "rotated_copies", "scale": "zoom"}
            document = {renamed.get(key, key): value for key, value in document.items()}
        if version < 3:
            sections: dict[str, dict] = {name: {} for name in SECTIONS}
            for key, value in document.items():
                sections[section_of(key)][key] = value
            document = sections
        return document


SECTIONS = {
    "model": ModelConfig,
    "data": DataConfig,
    "augmentation": AugmentationConfig,
    "optimization": OptimizationConfig,
    "runtime": RuntimeConfig,
}
_SECTION_OF = {field.name: section for section, kind in SECTIONS.items() for field in dataclasses.fields(kind)}


def section_of(field: str) -> str:
    """The section that holds ``field`` (names are unique across the sections)."""
    if field not in _SECTION_OF:
        raise SrasError(f"no training field {field!r} (fields: {', '.join(_SECTION_OF)})")
    return _SECTION_OF[field]


def train_fields() -> list[str]:
    """Every field of every section, in order: the CLI's options."""
    return list(_SECTION_OF)
