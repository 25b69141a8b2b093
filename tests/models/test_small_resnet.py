"""The CPU-scale ResNet in its two normalisations."""

import keras
import numpy as np
import pytest

from sras_keras.models.classifier import build_classifier, classifier_backbone, classifier_backbone_name
from sras_keras.models.saving import load_classifier


def _norm_layers(model, kind):
    return [layer for layer in classifier_backbone(model).layers if isinstance(layer, kind)]


@pytest.mark.parametrize(
    ("name", "present", "absent"),
    [
        ("resnet_small", keras.layers.GroupNormalization, keras.layers.BatchNormalization),
        ("resnet_small_bn", keras.layers.BatchNormalization, keras.layers.GroupNormalization),
    ],
)
def test_each_variant_uses_one_normalisation(name, present, absent):
    model = build_classifier(name, 32)
    assert _norm_layers(model, present) and not _norm_layers(model, absent)
    probabilities = model(np.zeros((2, 32, 32, 1), "float32"), training=False).numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_batchnorm_variant_moves_its_statistics_fast_and_survives_a_reload(tmp_path):
    model = build_classifier("resnet_small_bn", 32)
    assert {layer.momentum for layer in _norm_layers(model, keras.layers.BatchNormalization)} == {0.9}
    model.save(tmp_path / "model.keras")
    loaded = load_classifier(tmp_path / "model.keras")
    assert classifier_backbone_name(loaded) == "resnet_small_bn"
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(loaded(images, training=False), model(images, training=False), atol=1e-6)
