"""Label-smoothed cross-entropy on integer labels against the formula, and its round trip."""

import keras
import numpy as np
import pytest

from sras_keras.models import SmoothedSparseCrossentropy


def test_matches_the_smoothed_target_formula_and_reduces_to_plain_cross_entropy():
    labels = np.array([0, 2, 1])
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]], dtype="float32")
    target = np.eye(3)[labels] * 0.8 + 0.2 / 3
    expected = np.mean(-(target * np.log(probabilities)).sum(axis=1))
    assert float(SmoothedSparseCrossentropy(0.2)(labels, probabilities)) == pytest.approx(expected, rel=1e-5)
    plain = keras.losses.SparseCategoricalCrossentropy()(labels, probabilities)
    assert float(SmoothedSparseCrossentropy(0.0)(labels[:, None], probabilities)) == pytest.approx(float(plain))


def test_round_trips_and_refuses_a_bad_share():
    loss = SmoothedSparseCrossentropy(0.1)
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(again, SmoothedSparseCrossentropy) and again.smoothing == pytest.approx(0.1)
    with pytest.raises(ValueError, match="smoothing"):
        SmoothedSparseCrossentropy(1.0)
