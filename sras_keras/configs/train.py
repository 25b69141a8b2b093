"""``sras train``: the classifier's training config (``TrainConfig``) and the choices its fields take."""

from __future__ import annotations

import dataclasses

SCHEDULES = ("constant", "cosine")
OPTIMIZERS = ("adam", "adam_then_sgd")  # the two-step study's two-stage optimisation: Adam, then SGD
KFOLD_VALIDATION = ("test_fold", "next_fold")  # paper: select on the held-out fold; honest: on another fold
FLIPS = ("none", "horizontal", "both")  # random mirroring: left-right, or also up-down


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
