"""``sras sr train``: SRAFBN's training config, the CPU default and the published one (``SR_PAPER``)."""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

from sras_keras.core.errors import SrasError

PRESETS = ("full", "light", "tiny")  # models.srafbn's PRESETS
SCALES = (2, 3, 4)
STEP_WEIGHTINGS = ("self_attention", "softmax", "equal")


@dataclasses.dataclass(frozen=True)
class SRTrainConfig:
    """``sras sr train``. The defaults are the CPU config; ``SR_PAPER`` is the paper's (docs/fidelity.md lists what
    differs)."""

    FORMAT_VERSION: ClassVar[int] = 1  # config.json's layout

    preset: str = "light"
    scale: int = 2
    step_weighting: str = "self_attention"
    patch_size: int = 64  # HR side; LR is patch_size / scale
    batch_size: int = 16
    epochs: int = 20  # x 100 steps: about an hour of 2-core CPU, within max_minutes
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

    def __post_init__(self):
        """Refuse a value no training can use when the config is made (CLI, --set, config.json), before any write."""
        for name, choices in (("preset", PRESETS), ("scale", SCALES), ("step_weighting", STEP_WEIGHTINGS)):
            if getattr(self, name) not in choices:
                raise SrasError(f"unknown {name} {getattr(self, name)!r}; choose one of {', '.join(map(str, choices))}")
        for name in ("batch_size", "epochs", "steps_per_epoch", "val_batches"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise SrasError(f"{name} must be an integer of at least 1, got {getattr(self, name)!r}")
        if not isinstance(self.patch_size, int) or self.patch_size < 4 or self.patch_size % self.scale:
            raise SrasError(
                f"patch_size must be at least 4 and a multiple of the scale {self.scale}, got {self.patch_size}"
            )
        if (
            not (isinstance(self.learning_rate, (int, float)) and math.isfinite(self.learning_rate))
            or self.learning_rate <= 0
        ):
            raise SrasError(f"learning_rate must be a finite number > 0, got {self.learning_rate!r}")
        if any(not isinstance(epoch, int) or epoch < 1 for epoch in self.halve_at):
            raise SrasError(f"halve_at must be epochs of at least 1, got {self.halve_at}")
        if not 0.0 <= self.min_foreground <= 1.0:
            raise SrasError(f"min_foreground must be in [0, 1], got {self.min_foreground}")
        if self.max_minutes is not None and not (math.isfinite(self.max_minutes) and self.max_minutes > 0):
            raise SrasError(f"max_minutes must be a finite number > 0, got {self.max_minutes}")
        if not self.train_parts or not self.val_parts:
            raise SrasError("train_parts and val_parts must each name at least one part")

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
