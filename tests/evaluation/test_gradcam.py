"""Grad-CAM finds the planted discriminative patch of a toy model, and runs on an SRAS classifier."""

import keras
import numpy as np
import pytest

from sras_keras.core.errors import SrasError
from sras_keras.evaluation.gradcam import grad_cam, gradcam_model, overlay


def planted(rng, n, size=24, patch=6):
    """Class 1 images hold a bright square somewhere; class 0 images only noise. Returns images, labels, corners."""
    images = rng.uniform(0, 60, (n, size, size, 1)).astype(np.float32)
    labels = np.arange(n) % 2
    corners = rng.integers(0, size - patch, (n, 2))
    for image, label, (top, left) in zip(images, labels, corners):
        if label:
            image[top : top + patch, left : left + patch] = 255
    return images, labels, corners


def test_grad_cam_peaks_on_the_planted_patch():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images, labels, _ = planted(rng, 256)
    inputs = keras.Input((24, 24, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="last_conv")(x)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalMaxPooling2D()(x))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(images, labels, epochs=15, batch_size=32, verbose=0)
    assert model.evaluate(images, labels, verbose=0)[1] > 0.95

    test, test_labels, corners = planted(np.random.default_rng(1), 20)
    positives = test_labels == 1
    maps = grad_cam(model, test[positives], np.ones(positives.sum()), feature_layer="last_conv")
    assert maps.shape == (positives.sum(), 24, 24) and maps.min() >= 0 and maps.max() <= 1
    for heat, (top, left) in zip(maps, corners[positives]):
        row, col = np.unravel_index(heat.argmax(), heat.shape)
        assert top - 2 <= row < top + 8 and left - 2 <= col < left + 8  # the peak sits on (or at) the patch

    tinted = overlay(test[positives][0, ..., 0].astype(np.uint8), maps[0])
    assert tinted.shape == (24, 24, 3) and tinted.dtype == np.uint8


def test_grad_cam_on_an_sras_classifier():
    from sras_keras.models import build_classifier

    model = build_classifier("resnet_small", 32, weights=None)
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 1))
    features, probabilities = gradcam_model(model)(images)
    assert features.shape[1:3] == (2, 2)  # resnet_small's last stage: 1/16 of the side
    np.testing.assert_allclose(probabilities, model(images), atol=1e-6)  # the re-wired model is the same model
    maps = grad_cam(model, images, [3, 7])
    assert maps.shape == (2, 32, 32) and np.all((maps >= 0) & (maps <= 1))
    with pytest.raises(SrasError, match="4-D"):
        grad_cam(model, images, [3, 7], feature_layer="probabilities")
