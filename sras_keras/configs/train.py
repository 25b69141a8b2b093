"""``sras train``: the classifier's training config (``TrainConfig``) and the choices its fields take."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from sras_keras.core.errors import SrasError

SCHEDULES = ("constant", "cosine")
OPTIMIZERS = ("adam", "adam_then_sgd")  # the two-step study's two-stage optimisation: Adam, then SGD
KFOLD_VALIDATION = ("test_fold", "next_fold")  # paper: select on the held-out fold; honest: on another fold
FLIPS = ("none", "horizontal", "both")  # random mirroring: left-right, or also up-down
MONITORS = ("val_accuracy", "val_cell_accuracy")
HEADS = ("sras", "native")
STRATEGIES = ("auto", "mirrored", "multiworker")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """``sras train``. Defaults are SRAS-net's section 4.3: Adam 5e-4, batch 40, at most 100 epochs, early
    stopping on validation accuracy with patience 21 (best weights restored), shuffled input."""

    # config.json's layout. 2: `rotations` became `rotated_copies` and `scale` became `zoom` (each name had a
    # second meaning: ConvertConfig's rotation count, SRTrainConfig's SR factor)
    FORMAT_VERSION: ClassVar[int] = 2

    backbone: str = "inception_resnet_v2"
    weights: str = "imagenet"  # "imagenet", "none" or a local weights file
    batch_size: int = 40
    epochs: int = 100
    learning_rate: float = 5e-4
    patience: int = 21
    monitor: str = "val_accuracy"  # or "val_cell_accuracy": each validation cell with its own BatchNorm statistics
    dropout: float = 0.5
    rotated_copies: bool = True  # train on the rotated copies the dataset holds (ConvertConfig.rotations: how many)
    synthetic: bool = True  # train on the SMOTE images the dataset holds
    flip: str = "none"  # random mirroring of training images (FLIPS; not in the paper)
    max_rotation: float | None = None  # train only on stored copies within this many degrees of upright
    schedule: str = "constant"  # or "cosine": one warm-up epoch, then cosine decay to zero at `epochs`
    fold: int | None = None  # K-fold datasets: the held-out fold (validation and test, as the two-step study)
    kfold_validation: str = "test_fold"  # or "next_fold": validate on fold k+1, train on the other K-2 (honest)
    blur: float = 0.0  # random Gaussian blur of training images, sigma up to this (0: off; the two-step study)
    contrast: float = 0.0  # random contrast of training images about the background, x up to 1 + this (0: off)
    zoom: float = 0.0  # random zoom of training canvases about their anchor, x up to 1 + this (0: off)
    weight_decay: float = 0.0  # decoupled (AdamW-style) decay of every weight, times the learning rate (paper: 0)
    label_smoothing: float = 0.0  # share of each target spread over the 24 classes (paper: 0)
    optimizer: str = "adam"  # or "adam_then_sgd": Adam until `sgd_epoch`, then SGD with momentum 0.9
    sgd_epoch: int = 0  # first epoch (0-based) of the SGD stage of "adam_then_sgd"
    sgd_learning_rate: float = 1e-3
    head: str = "sras"  # "sras": pooling, dropout, softmax; "native": the architecture's own classifier head
    init_from: str | None = None  # a trained classifier (.keras) whose backbone weights start this run (two-step)
    batchnorm_momentum: float | None = None  # every BatchNorm layer's moving-average momentum; None: the model's own
    shuffle_buffer: int = 8192
    cell_batches: bool = False  # each training batch from one cell, BatchNorm on per-cell statistics (as --cell-bn)
    max_minutes: float | None = None
    mixed_precision: bool = False  # float16 on GPUs, bfloat16 on CPUs (training/distribute.py)
    seed: int = 0
    strategy: str = "auto"  # tf.distribute: auto | mirrored | multiworker (TF_CONFIG); batch_size stays global

    def __post_init__(self):
        """Every field checked where the config is made (a recipe, ``--set``, the CLI), before any work starts."""
        _choose("monitor", self.monitor, MONITORS)
        _choose("flip", self.flip, FLIPS)
        _choose("schedule", self.schedule, SCHEDULES)
        _choose("kfold_validation", self.kfold_validation, KFOLD_VALIDATION)
        _choose("optimizer", self.optimizer, OPTIMIZERS)
        _choose("head", self.head, HEADS)
        _choose("strategy", self.strategy, STRATEGIES)
        for name in ("batch_size", "epochs", "patience"):
            if getattr(self, name) < 1:
                raise SrasError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.learning_rate <= 0 or self.sgd_learning_rate <= 0:
            raise SrasError(f"learning rates must be > 0, got {self.learning_rate} and {self.sgd_learning_rate}")
        for name in ("blur", "contrast", "zoom"):
            if getattr(self, name) < 0:
                raise SrasError(f"{name} must be >= 0 (0: off), got {getattr(self, name)}")
        if self.weight_decay < 0:
            raise SrasError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise SrasError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise SrasError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.batchnorm_momentum is not None and not 0.0 <= self.batchnorm_momentum < 1.0:
            raise SrasError(f"batchnorm_momentum must be in [0, 1), got {self.batchnorm_momentum}")
        if self.max_rotation is not None and not 0 <= self.max_rotation <= 180:
            raise SrasError(f"max_rotation must be in [0, 180] degrees, got {self.max_rotation}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise SrasError(f"max_minutes must be > 0, got {self.max_minutes}")
        if self.fold is not None and self.fold < 0:
            raise SrasError(f"fold must be >= 0, got {self.fold}")
        if self.schedule == "cosine" and self.epochs < 2:
            raise SrasError("the cosine schedule needs at least 2 epochs (one of them warms up)")
        if self.optimizer == "adam_then_sgd" and not 0 < self.sgd_epoch < self.epochs:
            raise SrasError(
                f"adam_then_sgd needs 0 < sgd_epoch < epochs; got sgd_epoch={self.sgd_epoch}, epochs={self.epochs}"
            )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, document: dict) -> TrainConfig:
        return cls(**document)

    @staticmethod
    def upgrade(document: dict, version: int) -> dict:
        """A config.json of an older ``version`` in this version's names."""
        renamed = {"rotations": "rotated_copies", "scale": "zoom"} if version < 2 else {}
        return {renamed.get(key, key): value for key, value in document.items()}


def _choose(name: str, value, choices: tuple) -> None:
    if value not in choices:
        raise SrasError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
