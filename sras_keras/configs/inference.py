"""The inference concern: what a trained run's images went through on their way to its model.

``Preprocessing`` carries the typed ``RunData`` and ``Manifest`` it was read from, so whoever predicts with a run
(``sras predict``, ``sras evaluate``, size evidence, ``sras export``) reads neither file a second time. It holds
records and values only, so it sits here beside those records; reading them from a run folder is inference's
(``inference.predictor.run_preprocessing``).
"""

from __future__ import annotations

import dataclasses

from sras_keras.configs.records import Manifest, RunData

_RECORDS = ("run_data", "manifest")


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """A run's chain, in order: inverted (``invert``), upscaled by the SRAFBN saved at ``sr_model`` (None: not
    upscaled), then IAM or a resize (``preprocess``) onto an ``image_size`` canvas of grey level ``background``."""

    preprocess: str
    image_size: int
    threshold: int  # grey levels from the background that count as chromosome
    placement: str
    magnify: float
    background: int
    invert: bool
    canvas: dict | None  # IAM: the canvas its crops are batched on (``Manifest.canvas``)
    sr_model: str | None
    run_data: RunData = dataclasses.field(repr=False)
    manifest: Manifest = dataclasses.field(repr=False)  # of the run's training data, ``run_data.data_dir``

    @classmethod
    def of(cls, run_data: RunData, manifest: Manifest, sr_model: str | None) -> Preprocessing:
        """The chain as the run's dataset manifest records it; ``sr_model``: the SRAFBN its source was upscaled by."""
        config = manifest.config
        return cls(
            preprocess=config.preprocess,
            image_size=manifest.image_size,
            threshold=config.threshold,
            placement=config.placement,
            magnify=config.magnify,
            background=manifest.background_value,
            invert=config.invert,
            canvas=manifest.canvas,
            sr_model=sr_model,
            run_data=run_data,
            manifest=manifest,
        )

    def to_dict(self) -> dict:
        """The chain's values and the data they were read from, as an export records them."""
        values = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        values = {name: value for name, value in values.items() if name not in _RECORDS}
        return {**values, "data_dir": self.run_data.data_dir, "test_part": self.run_data.test}
