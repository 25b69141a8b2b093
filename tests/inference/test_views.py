"""Cell-adaptive BatchNorm: the cell's own statistics inside the block, the model's own after it."""

import keras
import numpy as np
import pytest

from sras_keras.core.errors import SrasError
from sras_keras.inference.inputs import InputImage
from sras_keras.inference.predictor import prediction_groups
from sras_keras.inference.views import MIN_CELL_IMAGES, batchnorm_layers, cell_statistics


def _model(nested: bool = False) -> keras.Model:
    """conv -> BN -> dropout -> conv -> BN -> softmax (the part after the dropout a nested model if ``nested``);
    the same weights either way."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.BatchNormalization(name="bn1")(keras.layers.Conv2D(4, 3, name="conv1")(inputs))
    x = keras.layers.Dropout(0.9)(x)  # before a BatchNorm: left on, it would skew bn2's statistics
    tail = [
        keras.layers.Conv2D(3, 3, name="conv2"),
        keras.layers.BatchNormalization(name="bn2"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Softmax(),
    ]
    if nested:
        tail_inputs = keras.Input(x.shape[1:])
        y = tail_inputs
        for layer in tail:
            y = layer(y)
        return keras.Model(inputs, keras.Model(tail_inputs, y, name="tail")(x))
    for layer in tail:
        x = layer(x)
    return keras.Model(inputs, x)


def _cell(shift: float, n: int = 20) -> np.ndarray:
    return np.random.default_rng(1).normal(shift, 3.0, (n, 8, 8, 1)).astype(np.float32)


def test_each_batchnorm_layer_normalises_the_cell_with_its_own_statistics():
    model = _model()
    probe = keras.Model(model.inputs, [layer.output for layer in batchnorm_layers(model)])
    cell = _cell(shift=5.0)
    before = np.asarray(model(cell, training=False))
    with cell_statistics(model, cell):
        outputs = [np.asarray(output) for output in probe(cell, training=False)]
        adapted = np.asarray(model(cell, training=False))
    for output in outputs:  # gamma 1, beta 0: zero mean and unit variance per channel over the cell
        np.testing.assert_allclose(output.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)
        np.testing.assert_allclose(output.var(axis=(0, 1, 2)), 1.0, atol=1e-2)
    assert np.abs(adapted - before).max() > 1e-3
    np.testing.assert_array_equal(np.asarray(model(cell, training=False)), before)  # the model's own, restored
    assert [layer.momentum for layer in batchnorm_layers(model)] == [0.99, 0.99]
    assert [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)] == [0.9]

    nested = _model(nested=True)  # a backbone inside the classifier: its layers are adapted too
    assert [layer.name for layer in batchnorm_layers(nested)] == ["bn1", "bn2"]
    with cell_statistics(nested, cell):
        np.testing.assert_allclose(np.asarray(nested(cell, training=False)), adapted, atol=1e-6)


def test_statistics_come_back_after_an_error_inside_the_block():
    model = _model()
    cell = _cell(shift=2.0)
    before = np.asarray(model(cell, training=False))
    with pytest.raises(RuntimeError):
        with cell_statistics(model, cell):
            raise RuntimeError("inside")
    np.testing.assert_array_equal(np.asarray(model(cell, training=False)), before)


def test_a_model_without_batchnorm_is_a_clear_error():
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)), name="plain")
    with pytest.raises(SrasError, match="'plain' has no BatchNorm layer"):
        with cell_statistics(model, _cell(0.0)):
            pass


def test_whole_cells_are_adapted_small_cells_and_cell_less_images_are_batched():
    cells = ["a"] * MIN_CELL_IMAGES + ["b"] * (MIN_CELL_IMAGES - 1) + [""] * 3 + ["c"] * (MIN_CELL_IMAGES + 5)
    images = [InputImage(f"{k}", cell, None) for k, cell in enumerate(cells)]
    groups = prediction_groups(images, batch_size=8, cell_bn=True)
    adapted = [list(indices) for indices, adapt in groups if adapt]
    assert adapted == [list(range(MIN_CELL_IMAGES)), list(range(2 * MIN_CELL_IMAGES + 2, len(cells)))]
    rest = [k for indices, adapt in groups if not adapt for k in indices]
    assert rest == list(range(MIN_CELL_IMAGES, 2 * MIN_CELL_IMAGES + 2))
    assert all(len(indices) <= 8 for indices, adapt in groups if not adapt)
    plain = prediction_groups(images, batch_size=8, cell_bn=False)
    assert not any(adapt for _, adapt in plain)
    assert [k for indices, _ in plain for k in indices] == list(range(len(cells)))
