"""The inference concern: what a trained run's images went through on their way to its model.

``Preprocessing`` is ``preprocessing.json``, written into the run folder when training starts, so a run predicts on
images with nothing outside its folder: not its dataset's manifest, not the SR model's original file. It holds values
only, so it sits here beside the other records; reading it (or, for a run from before it, its dataset's manifest) is
inference's (``inference.predictor.run_preprocessing``).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from sras_keras.configs.records import Manifest
from sras_keras.core.run_files import MODEL_CARD, PREPROCESSING


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """A run's chain, in order: inverted (``invert``), upscaled by the SRAFBN saved at ``sr_model`` (None: not
    upscaled), then IAM or a resize (``preprocess``) onto an ``image_size`` canvas of grey level ``background``; its
    model's outputs are ``class_names`` in that order."""

    FILE: ClassVar[str] = PREPROCESSING
    FORMAT_VERSION: ClassVar[int] = 1

    preprocess: str
    image_size: int
    threshold: int  # grey levels from the background that count as chromosome
    placement: str
    magnify: float
    background: int
    invert: bool
    canvas: dict | None  # IAM: the canvas its crops are batched on (``Manifest.canvas``)
    sr_model: str | None  # relative to the run folder (its copy); a run from before this file: the original's path
    class_names: tuple[str, ...]

    @classmethod
    def of(cls, manifest: Manifest, sr_model: str | None, class_names) -> Preprocessing:
        """The chain as a dataset manifest records it; ``sr_model``: the SRAFBN its source was upscaled by."""
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
            class_names=tuple(class_names),
        )

    @classmethod
    def from_dict(cls, document: dict) -> Preprocessing:
        return cls(**{**document, "class_names": tuple(document["class_names"])})

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "class_names": list(self.class_names)}


@dataclasses.dataclass(frozen=True, kw_only=True)  # keyword-only: the fields keep the file's order
class ModelCard:
    """``card.json`` of a packaged model (``sras models package``): what it was trained on and how, what it is for,
    and its held-out numbers as measured with the packaged files themselves; rendered for readers as MODEL_CARD.md."""

    FILE: ClassVar[str] = MODEL_CARD
    FORMAT_VERSION: ClassVar[int] = 1

    name: str
    title: str
    band: str  # "Q" or "G"
    intended_input: str
    limits: tuple[str, ...]
    dataset: str  # the data set's folder under the data root, e.g. "bioimlab"
    layout: str  # how that folder was read (``sras data convert --layout``), so the held-out cells can be found again
    label_coding: str
    cell_regex: str | None
    data_checksum: str  # of every source file's path and content (the run's env.json)
    recipe: str | None  # the recipe and row that trained it, when an experiment did
    row: str | None
    trained_commit: str  # the sras-keras commit that trained it
    packaged_commit: str
    weights: str  # how model.keras stores its weights, e.g. "float16"
    split: dict  # scheme, seed, grouping, and the cells of each part
    test_cells: tuple[str, ...]  # the held-out cells the numbers below are measured on
    training: dict  # epochs trained, best epoch, its validation accuracy, wall minutes
    held_out: dict  # view name -> {"options", "images", "cells", "accuracy", "macro_f1", "accuracy_assigned", ...}
    selection: str = ""  # how its row was chosen over another candidate, if one was

    @classmethod
    def from_dict(cls, document: dict) -> ModelCard:
        return cls(**{**document, "limits": tuple(document["limits"]), "test_cells": tuple(document["test_cells"])})

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "limits": list(self.limits), "test_cells": list(self.test_cells)}
