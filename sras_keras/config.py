"""Configuration dataclasses: every run's ``config.json`` is one of these, written as it was used."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from sras_keras.data.splits import SplitConfig


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
    background: str = "auto"  # or "black" / "white"
    threshold: int = 20
    records_per_shard: int = 1024

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
