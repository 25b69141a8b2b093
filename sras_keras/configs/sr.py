"""``sras sr train``: SRAFBN's training config, the CPU default and the published one (``SR_PAPER``)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar


@dataclasses.dataclass(frozen=True)
class SRTrainConfig:
    """``sras sr train``. The defaults are the CPU config (design notes §6-7); ``SR_PAPER`` is the faithful one."""

    FORMAT_VERSION: ClassVar[int] = 1  # config.json's layout

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
