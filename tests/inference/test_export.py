"""`sras export`: SavedModel and TFLite with the preprocessing inside, checked against the Keras model."""

import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf

from sras_keras.core.errors import SrasError
from sras_keras.data.readers import read_image
from sras_keras.inference.export import export_run
from sras_keras.inference.predictor import Predictor


@pytest.mark.parametrize("export_format", ["savedmodel", "tflite"])
def test_export_matches_keras_on_raw_images(tiny_run, tmp_path, export_format):
    record = export_run(tiny_run / "run", tmp_path, export_format, parity_images=20)
    assert record["parity"]["images"] == 20
    assert record["parity"]["max_abs_diff"] < 1e-4 and record["parity"]["top1_agreement"] == 1.0
    assert json.loads((tmp_path / f"export-{export_format}.json").read_text())["parity"] == record["parity"]
    if export_format == "savedmodel":  # a raw image of any size goes in: the canvas is made inside the graph
        classify = tf.saved_model.load(str(tmp_path / "savedmodel")).signatures["classify"]
        image = np.zeros((70, 30), np.uint8)
        image[10:60, 8:20] = 180
        probabilities = classify(image=tf.constant(image))["probabilities"].numpy()
        assert probabilities.shape == (24,) and np.isclose(probabilities.sum(), 1, atol=1e-5)
    else:
        assert (tmp_path / "model.tflite").stat().st_size > 1_000_000  # the weights are inside


def test_a_run_trained_on_inverted_images_exports_the_inversion(tiny_run, tmp_path, monkeypatch):
    """An --invert run's exported graph takes the user's image as given (a G-band negative) and inverts it inside."""
    import sras_keras.inference.predictor as predictor_module

    read = predictor_module.run_preprocessing
    monkeypatch.setattr(predictor_module, "run_preprocessing", lambda run: dataclasses.replace(read(run), invert=True))
    record = export_run(tiny_run / "run", tmp_path, "savedmodel", parity_images=20)
    assert record["parity"]["max_abs_diff"] < 1e-4 and record["preprocessing"]["invert"] is True
    monkeypatch.undo()
    plain = predictor_module.Predictor(tiny_run / "run")
    classify = tf.saved_model.load(str(tmp_path / "savedmodel")).signatures["classify"]
    image = np.zeros((70, 30), np.uint8)
    image[10:60, 8:20] = 180
    inverted = classify(image=tf.constant(255 - image))["probabilities"].numpy()
    assert np.abs(inverted - plain.probabilities(plain.prepare([image]))[0]).max() < 1e-4


def test_an_sr_run_exports_its_upscaling(sr_run, tiny_run, tmp_path):
    """The exported graph upscales each image with the run's SR model, as ``Predictor`` does one image at a time. The
    parity compares with ``Predictor``'s batches, whose padding moves a crop's border pixels a little."""
    record = export_run(sr_run / "run", tmp_path, "savedmodel", parity_images=20)
    assert record["preprocessing"]["sr_model"] == str(sr_run / "srafbn.keras")
    assert record["parity"]["images"] == 20 and record["parity"]["max_abs_diff"] < 0.01
    classify = tf.saved_model.load(str(tmp_path / "savedmodel")).signatures["classify"]
    predictor = Predictor(sr_run / "run")
    for file in sorted((tiny_run / "source" / "1").iterdir())[:4]:
        image = read_image(file)[0]
        exported = classify(image=tf.constant(image))["probabilities"].numpy()
        np.testing.assert_allclose(exported, predictor.probabilities(predictor.prepare([image]))[0], atol=1e-6)


def test_unknown_format(tiny_run, tmp_path):
    with pytest.raises(SrasError, match="unknown export format"):
        export_run(tiny_run / "run", tmp_path, "onnx")


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="GPUs run mixed precision in float16")
def test_mixed_precision_run_exports_in_float32(tiny_run, tmp_path):
    """TFLite has no bfloat16 kernels: the export computes in float32, the parity says how far that is from the
    bfloat16 Keras model."""
    import keras

    from sras_keras.configs.train import TrainConfig
    from sras_keras.training.classifier import train_classifier

    train = TrainConfig().replace(
        backbone="resnet_small", weights="none", batch_size=32, epochs=1, mixed_precision=True
    )
    try:
        train_classifier(tiny_run / "data", tmp_path / "run", train, log=lambda line: None)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    record = export_run(tmp_path / "run", tmp_path / "export", "tflite", parity_images=20)
    assert record["parity"]["images"] == 20 and 0 < record["parity"]["max_abs_diff"] < 0.02


def test_float32_copy_of_a_half_precision_sr_model():
    """SRAFBN is a subclassed model: its float32 copy is built as Keras' loader builds one, weights carried over."""
    import keras

    from sras_keras.inference.export import float32_model
    from sras_keras.models import SRAFBN

    image = np.random.default_rng(0).random((1, 12, 12, 1)).astype("float32")
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        half = SRAFBN.from_preset("tiny", mean=0.5)
        expected = np.asarray(half(image))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    full = float32_model(half)
    assert "float16" not in json.dumps(full.get_config()) and full.feedback.compute_dtype == "float32"
    assert np.abs(np.asarray(full(image)) - expected).max() < 0.02
    assert float32_model(full) is full
