"""Configuration dataclasses: every run's ``config.json`` is one of these, written as it was used."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from sras_keras.data.splits import SplitConfig

SCHEDULES = ("constant", "cosine")
OPTIMIZERS = ("adam", "adam_then_sgd")  # the two-step study's two-stage optimisation: Adam, then SGD
KFOLD_VALIDATION = ("test_fold", "next_fold")  # paper: select on the held-out fold; honest: on another fold
FLIPS = ("none", "horizontal", "both")  # random mirroring: left-right, or also up-down


@dataclasses.dataclass(frozen=True)
class ConvertConfig:
    """How ``sras data convert`` turns a source tree into TFRecords."""

    layout: str = "auto"
    label_coding: str = "standard"
    cell_regex: str | None = None
    split: SplitConfig = SplitConfig()
    splits_file: str | None = None  # reuse a saved splits.json instead of ``split``
    rotations: int = 1  # copies per training image at 360/rotations degree steps (paper: 24)
    image_size: int = 224
    preprocess: str = "iam"  # or "square_resize" (the two-step study)
    placement: str = "top_left"
    magnify: float = 1.0  # IAM: enlarge every crop by this factor first, still capped to fit (paper: 1, never)
    background: str = "auto"  # or "black" / "white"
    invert: bool = False  # grey levels 255 - v on reading: a G-band image (dark bands, white ground) looks Q-banded
    threshold: int = 20
    records_per_shard: int = 1024
    smote: bool = False  # synthesise X and Y up to the largest class (SRAS-net section 3.4)
    smote_scope: str = "train"  # "train": inside each training part; "all": before the split, as the paper

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, document: dict) -> "ConvertConfig":
        fields = dict(document)
        fields["split"] = SplitConfig(**fields["split"])
        return cls(**fields)


def fingerprint(document) -> str:
    """A short stable hash of a JSON-able document (configs, file lists)."""
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class SRTrainConfig:
    """``sras sr train``. The defaults are the CPU config (design notes §6-7); ``SR_PAPER`` is the faithful one."""

    preset: str = "light"
    scale: int = 2
    step_weighting: str = "self_attention"
    patch_size: int = 64  # HR side; LR is patch_size / scale
    batch_size: int = 16
    epochs: int = 20  # x 100 steps: about an hour of 2-core CPU (1.6 s a step, notes §7)
    steps_per_epoch: int = 100
    learning_rate: float = 2e-4
    halve_at: tuple[int, ...] = (12,)  # epochs at which the rate halves (CPU: once, at 60%)
    min_foreground: float = 0.1
    val_batches: int = 8
    train_parts: tuple[str, ...] = ("train",)
    val_parts: tuple[str, ...] = ("val",)
    max_minutes: float | None = 60.0
    mixed_precision: bool = False  # float16 on GPUs, bfloat16 on CPUs (training/distribute.py)
    seed: int = 0

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, document: dict) -> "SRTrainConfig":
        fields = dict(document)
        for key in ("halve_at", "train_parts", "val_parts"):
            fields[key] = tuple(fields[key])
        return cls(**fields)


# SRFBN's published recipe (notes §5) with SRAS-net's model: m=64, G=6, T=4, LR patches of 60 (x2), batch 16,
# Adam 1e-4 halved every 200 of 1000 epochs. A GPU job: about 1M iterations.
SR_PAPER = SRTrainConfig(
    preset="full",
    patch_size=120,
    batch_size=16,
    epochs=1000,
    steps_per_epoch=1000,
    learning_rate=1e-4,
    halve_at=(200, 400, 600, 800),
    max_minutes=None,
    mixed_precision=True,
)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """``sras train``. Defaults are SRAS-net's section 4.3: Adam 5e-4, batch 40, at most 100 epochs, early
    stopping on validation accuracy with patience 21 (best weights restored), shuffled input."""

    backbone: str = "inception_resnet_v2"
    weights: str = "imagenet"  # "imagenet", "none" or a local weights file
    batch_size: int = 40
    epochs: int = 100
    learning_rate: float = 5e-4
    patience: int = 21
    monitor: str = "val_accuracy"  # or "val_cell_accuracy": each validation cell with its own BatchNorm statistics
    dropout: float = 0.5
    rotations: bool = True  # train on the rotated copies the dataset holds
    synthetic: bool = True  # train on the SMOTE images the dataset holds
    flip: str = "none"  # random mirroring of training images (FLIPS; not in the paper)
    max_rotation: float | None = None  # train only on stored copies within this many degrees of upright
    schedule: str = "constant"  # or "cosine": one warm-up epoch, then cosine decay to zero at `epochs`
    fold: int | None = None  # K-fold datasets: the held-out fold (validation and test, as the two-step study)
    kfold_validation: str = "test_fold"  # or "next_fold": validate on fold k+1, train on the other K-2 (honest)
    blur: float = 0.0  # random Gaussian blur of training images, sigma up to this (0: off; the two-step study)
    contrast: float = 0.0  # random contrast of training images about the background, x up to 1 + this (0: off)
    scale: float = 0.0  # random zoom of training canvases about their anchor, x up to 1 + this (0: off)
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

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
