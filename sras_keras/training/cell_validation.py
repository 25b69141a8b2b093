"""Validation accuracy as `sras predict --cell-bn` classifies: each validation cell with its own BatchNorm
statistics. A model trained on one-cell batches (``DataConfig.cell_batches``) has moving statistics that fit no
single cell, so ``val_accuracy`` misjudges its epochs: it chose epoch 8 of 13 on seed 0 of the CPU headline,
where this metric is what the model is used with."""

from __future__ import annotations

import keras
import numpy as np

from sras_keras.core.errors import SrasError
from sras_keras.inference.predictor import record_batches
from sras_keras.inference.views import (
    MIN_CELL_IMAGES,
    batchnorm_layers,
    cell_groups,
    view_probabilities,
)

METRIC = "val_cell_accuracy"


class CellValidation(keras.callbacks.Callback):
    """Adds ``val_cell_accuracy`` to each epoch's logs; list it before the callbacks that read it."""

    def __init__(self, data_dir, part: str, batch_size: int):
        super().__init__()
        batches, images = [], []
        for batch, batch_images in record_batches(data_dir, part, batch_size):
            batches.append(batch)
            images += batch_images
        self.images, self.labels = np.concatenate(batches), np.array([image.label for image in images])
        cells = [image.cell_id for image in images]
        self.groups = cell_groups(cells, batch_size)
        if not any(adapt for _, adapt in self.groups):
            raise SrasError(f"{data_dir}: no '{part}' cell of {MIN_CELL_IMAGES} or more images to validate {METRIC} on")

    def on_train_begin(self, logs=None):
        if not batchnorm_layers(self.model):  # before any step, not after an epoch's training
            raise SrasError(f"{METRIC}: model {self.model.name!r} has no BatchNorm layer to adapt to each cell")

    def on_epoch_end(self, epoch, logs=None):
        correct = 0
        for indices, adapt in self.groups:
            probabilities = view_probabilities(self.model, [self.images[indices]], adapt)
            correct += int((probabilities.argmax(axis=1) == self.labels[indices]).sum())
        if logs is not None:
            logs[METRIC] = correct / len(self.labels)
