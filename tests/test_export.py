"""`sras export`: SavedModel and TFLite with the preprocessing inside, checked against the Keras model."""

import json

import numpy as np
import pytest
import tensorflow as tf

from sras_keras.errors import SrasError
from sras_keras.export import export_run


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


def test_unknown_format(tiny_run, tmp_path):
    with pytest.raises(SrasError, match="unknown export format"):
        export_run(tiny_run / "run", tmp_path, "onnx")
