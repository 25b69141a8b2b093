"""How ``sras data convert`` reads, splits and preprocesses a source tree (``ConvertConfig``, ``SplitConfig``)."""

from __future__ import annotations

import dataclasses
import math

from sras_keras.configs.checks import check_range, check_types, choose
from sras_keras.core.errors import SrasError

SCHEMES = ("paper", "holdout", "kfold")
LAYOUTS = ("auto", "bioimlab", "class_folders")
# the codings of class-folder names:
#   standard: 1..22, 23 = X, 24 = Y, and the letters X/Y (BioImLab and most public sets)
#   sras:     1..22, 23 = X, 0 = Y (SRAS-net's own coding, Fig 8)
LABEL_CODINGS = ("standard", "sras")
PREPROCESSORS = ("iam", "square_resize", "stretch")
PLACEMENTS = ("top_left", "center")
BACKGROUNDS = ("auto", "black", "white")
SMOTE_SCOPES = ("train", "all")
GROUPINGS = ("image", "cell")
_DEFAULT_GROUPING = {"paper": "image", "holdout": "cell", "kfold": "image"}


@dataclasses.dataclass(frozen=True)
class SplitConfig:
    # holdout by cell: the paper's image-level split puts chromosomes of one cell in both training and test, and tests
    # on its validation set, so its accuracy is optimistic; it stays one flag away (``--split paper``)
    scheme: str = "holdout"
    seed: int = 0
    group_by: str | None = None  # None: the scheme's own default (paper: image, holdout: cell, kfold: image)
    folds: int = 5
    val_fraction: float = 0.1
    test_fraction: float = 0.2

    def __post_init__(self):
        check_types(self)

    def resolved(self) -> "SplitConfig":
        """The config with ``group_by`` filled in and every field checked."""
        if self.scheme not in SCHEMES:
            raise SrasError(f"unknown split {self.scheme!r}; choose one of {', '.join(SCHEMES)}")
        group_by = self.group_by or _DEFAULT_GROUPING[self.scheme]
        if group_by not in GROUPINGS:
            raise SrasError(f"unknown --group-by {group_by!r}; choose one of {', '.join(GROUPINGS)}")
        if self.scheme == "paper" and group_by != "image":
            raise SrasError("the paper split is image-level by definition; use --split holdout to group by cell")
        default = SplitConfig()
        if self.scheme != "holdout" and (self.val_fraction, self.test_fraction) != (
            default.val_fraction,
            default.test_fraction,
        ):  # else ignored without a word: the paper split is 4:1 as published, K folds are --folds
            raise SrasError(f"--val-fraction and --test-fraction apply to --split holdout, not {self.scheme}")
        if self.scheme != "kfold" and self.folds != default.folds:
            raise SrasError(f"--folds applies to --split kfold, not {self.scheme}")
        if self.scheme == "kfold" and self.folds < 2:
            raise SrasError(f"--folds must be at least 2, got {self.folds}")
        if self.scheme == "holdout" and not (
            0 <= self.val_fraction < 1 and 0 < self.test_fraction < 1 and self.val_fraction + self.test_fraction < 1
        ):
            raise SrasError("holdout fractions must satisfy 0 <= val, 0 < test and val + test < 1")
        return dataclasses.replace(self, group_by=group_by)

    @property
    def validation_part(self) -> str | None:
        """Where early stopping looks: the paper reuses its test set, which is the leak it is known for."""
        return {"paper": "test", "holdout": "val", "kfold": None}[self.scheme]

    def parts(self) -> list[str]:
        if self.scheme == "kfold":
            return [f"fold{k}" for k in range(self.folds)]
        return ["train", "test"] if self.scheme == "paper" else ["train", "val", "test"]


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

    def __post_init__(self):
        if isinstance(self.magnify, (int, float)) and not (math.isfinite(self.magnify) and self.magnify >= 1):
            # inf would reach manifest.json as Infinity
            raise SrasError(
                f"--magnify {self.magnify} must be a finite number of at least 1 (IAM shrinks what does not fit by "
                "itself)"
            )
        check_types(self)
        check_range("rotations", self.rotations, 1, 360)
        check_range("image_size", self.image_size, 8, 4096)
        check_range("threshold", self.threshold, 0, 254)
        check_range("records_per_shard", self.records_per_shard, 1)
        choose("layout", self.layout, LAYOUTS)
        choose("label_coding", self.label_coding, LABEL_CODINGS)
        choose("preprocess", self.preprocess, PREPROCESSORS)
        choose("placement", self.placement, PLACEMENTS)
        choose("background", self.background, BACKGROUNDS)
        choose("smote_scope", self.smote_scope, SMOTE_SCOPES)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, document: dict) -> "ConvertConfig":
        fields = dict(document)
        fields["split"] = SplitConfig(**fields["split"])
        return cls(**fields)
