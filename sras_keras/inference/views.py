"""Cell-adaptive BatchNorm: a cell's chromosomes normalised with their own statistics (AdaBN, Li et al. 2016).

Metaphase cells differ in staining and condensation. A model trained on batches mixed across cells normalises
every cell with the training cells' average statistics; the hard held-out cells are the ones furthest from that
average. Here each BatchNorm layer's moving mean and variance are replaced, while one cell is classified, by those
of that cell's own images: no label and no other cell is used, the same unlabelled whole-cell context as karyotype
assignment and size evidence. Frozen BatchNorm layers (``trainable=False``) run in inference mode and keep theirs.
"""

from __future__ import annotations

import contextlib

import keras
import numpy as np

from sras_keras.core.errors import SrasError

# Fewer images than this give too noisy statistics: such a cell (or an image without a cell) keeps the model's own.
MIN_CELL_IMAGES = 10


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):  # a nested model (a backbone inside the classifier)
            yield from _all_layers(layer)


def batchnorm_layers(model) -> list:
    return [layer for layer in _all_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]


def cell_groups(cell_ids: list[str], batch_size: int) -> list[tuple[np.ndarray, bool]]:
    """Indices grouped for prediction, each group with whether it is one cell to adapt to: every cell of at least
    ``MIN_CELL_IMAGES`` images whole, then the rest (small cells, cell-less images: id '') in batches."""
    cells: dict[str, list[int]] = {}
    for k, cell in enumerate(cell_ids):
        cells.setdefault(cell, []).append(k)
    whole = [
        (np.array(members), True) for cell, members in cells.items() if cell != "" and len(members) >= MIN_CELL_IMAGES
    ]
    rest = sorted(k for cell, members in cells.items() if cell == "" or len(members) < MIN_CELL_IMAGES for k in members)
    return whole + [(np.array(rest[start : start + batch_size]), False) for start in range(0, len(rest), batch_size)]


@contextlib.contextmanager
def cell_statistics(model, images: np.ndarray):
    """Inside the block, every BatchNorm layer of ``model`` normalises with the statistics of ``images`` (one
    forward pass in training mode at momentum 0, dropout off); the model's own statistics come back after it."""
    norms = batchnorm_layers(model)
    if not norms:
        raise SrasError(f"model {model.name!r} has no BatchNorm layer: cell-adaptive statistics do not apply")
    dropouts = [layer for layer in _all_layers(model) if isinstance(layer, keras.layers.Dropout)]
    saved = [(layer.moving_mean.numpy(), layer.moving_variance.numpy()) for layer in norms]
    momenta, rates = [layer.momentum for layer in norms], [layer.rate for layer in dropouts]
    try:
        for layer in norms:
            layer.momentum = 0.0
        for layer in dropouts:
            layer.rate = 0.0
        model(images, training=True)
        yield  # inference inside the block reads neither momentum nor dropout rate: both come back with the rest
    finally:
        for layer, momentum, (mean, variance) in zip(norms, momenta, saved):
            layer.momentum = momentum
            layer.moving_mean.assign(mean)
            layer.moving_variance.assign(variance)
        for layer, rate in zip(dropouts, rates):
            layer.rate = rate


def view_probabilities(model, views: list[np.ndarray], adapt: bool = False) -> np.ndarray:
    """One batch's probabilities, seen as each of ``views`` (the model inputs; with TTA also their mirror images,
    combined by ``with_mirror_view``); ``adapt``: the batch is one whole cell, normalised with its own BatchNorm
    statistics over every view (``cell_statistics``). What `sras predict`, size evidence and the training's cell
    validation all predict with."""
    with cell_statistics(model, np.concatenate(views)) if adapt else contextlib.nullcontext():
        probabilities = [np.asarray(model.predict_on_batch(view)) for view in views]
    return probabilities[0] if len(probabilities) == 1 else with_mirror_view(*probabilities)


def with_mirror_view(original: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """Test-time augmentation: the normalised geometric mean of the probabilities of an image and of its left-right
    mirror image (the models train on random mirrorings). On the headline's validation cells it gained 2-3 of
    506 images for both training seeds; the two rotations by 15 degrees did not add consistently."""
    log_mean = (np.log(np.maximum(original, 1e-30)) + np.log(np.maximum(mirrored, 1e-30))) / 2
    combined = np.exp(log_mean - log_mean.max(axis=1, keepdims=True))
    return combined / combined.sum(axis=1, keepdims=True)
