import collections

import numpy as np
import pytest

from sras_keras.core.errors import SrasError
from sras_keras.data.labels import X_INDEX, Y_INDEX
from sras_keras.data.smote import smote_images


def toy_set(seed=0):
    """Autosomes 0 and 1 with 10 images each, X with 6, Y with 3: the karyotype imbalance in miniature."""
    rng = np.random.default_rng(seed)
    labels = np.array([0] * 10 + [1] * 10 + [X_INDEX] * 6 + [Y_INDEX] * 3)
    images = rng.integers(0, 256, (len(labels), 8, 6)).astype(np.uint8)
    return images, labels


def test_counts_rise_to_the_largest_class():
    images, labels = toy_set()
    result = smote_images(images, labels, seed=0)
    counts = collections.Counter(np.concatenate([labels, result.labels]).tolist())
    assert counts[X_INDEX] == 10 and counts[Y_INDEX] == 10 and counts[0] == 10
    assert len(result.images) == 4 + 7 and result.images.dtype == np.uint8 and result.images.shape[1:] == (8, 6)


def test_synthetic_pixels_lie_between_two_same_class_parents():
    images, labels = toy_set()
    result = smote_images(images, labels, seed=0)
    for image, label, (a, b), step in zip(result.images, result.labels, result.parents, result.steps):
        assert labels[a] == label and labels[b] == label and a != b
        expected = images[a].astype(np.float32) + step * (images[b].astype(np.float32) - images[a])
        assert np.abs(image.astype(np.float32) - expected).max() <= 0.5 + 1e-3
        low, high = np.minimum(images[a], images[b]), np.maximum(images[a], images[b])
        assert np.all((image >= low) & (image <= high))


def test_deterministic_by_seed():
    images, labels = toy_set()
    a, b = smote_images(images, labels, seed=4), smote_images(images, labels, seed=4)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.parents, b.parents)
    assert not np.array_equal(a.images, smote_images(images, labels, seed=5).images)


def test_absent_class_is_a_clear_error():
    images, labels = toy_set()
    keep = labels != Y_INDEX
    with pytest.raises(SrasError, match="class Y: the training split holds 0"):
        smote_images(images[keep], labels[keep])
