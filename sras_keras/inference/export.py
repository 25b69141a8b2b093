"""``sras export RUN``: the trained classifier with its preprocessing (SRAFBN if the run used it, then IAM or the
resize, canvas, scaling) inside one graph, as a SavedModel or a TFLite file, so a deployment feeds a raw grayscale
chromosome image of any size and gets 24 probabilities back. A parity check against the Keras path on the run's
own test images is written beside it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from sras_keras.configs.inference import Preprocessing
from sras_keras.configs.records import RunData
from sras_keras.core.errors import SrasError
from sras_keras.core.io import atomic_path, make_folder, write_json_atomic
from sras_keras.core.provenance import environment
from sras_keras.data.pipeline import load_splits
from sras_keras.data.readers import read_image
from sras_keras.inference.predictor import Predictor, as_trained, placement
from sras_keras.inference.upscale import upscale_image

FORMATS = ("savedmodel", "tflite")
SIGNATURE = "classify"
HALF_TYPES = ("float16", "bfloat16")  # also the endings of the policy names mixed_float16, mixed_bfloat16


class ServingModule(tf.Module):
    """``classify(image: (H, W) uint8) -> {'probabilities': (24,) float32}``, preprocessing included: the steps
    ``Predictor`` runs (``as_trained``, ``upscale_image``, which it batches, ``placement``), so an image predicted
    alone gets the same numbers both ways."""

    def __init__(self, model, preprocessing: Preprocessing, sr_model=None):
        super().__init__()
        self.model = model
        self.sr_model = sr_model  # an attribute, so the SavedModel tracks and saves its weights
        self.preprocessing = preprocessing
        self.upscale = None if sr_model is None else upscale_image(sr_model, preprocessing.background)
        self.place = placement(preprocessing)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.uint8, name="image")])
    def classify(self, image):
        image = as_trained(self.preprocessing, image)
        if self.upscale is not None:
            image = self.upscale(image)
        canvas = tf.cast(self.place(image), tf.float32)
        return {"probabilities": self.model(canvas[tf.newaxis], training=False)[0]}


def float32_model(model):
    """``model`` computing in float32 (itself when it already does): a mixed-precision run's float16 or bfloat16 ops
    have no TFLite builtin kernels, and a half-precision graph is slow or unsupported on many deployment CPUs. Its
    variables are float32 either way, so the weights carry over unchanged."""
    config = model.get_config()
    full = _float32_config(config)
    if full == config:  # nothing to replace
        return model
    copy = type(model).from_config(full)
    if not copy.built:  # a subclassed model (SRAFBN) builds as Keras' loader builds it
        copy.build_from_config(model.get_build_config())
    copy.set_weights(model.get_weights())
    return copy


def _float32_config(node):
    if isinstance(node, list):
        return [_float32_config(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("class_name") == "DTypePolicy" and node["config"]["name"].endswith(HALF_TYPES):
        return {**node, "config": {**node["config"], "name": "float32"}}
    return {
        key: "float32" if key == "dtype" and value in HALF_TYPES else _float32_config(value)
        for key, value in node.items()
    }


def test_images(run_data: RunData, limit: int) -> list[tuple[str, np.ndarray]]:
    """Up to ``limit`` original images of the run's test part, read from the dataset's source tree."""
    splits = load_splits(run_data.data_dir)
    root = Path(splits.source.root)
    paths = [entry.path for entry in splits.images if entry.part == run_data.test and not entry.synthetic]
    paths = paths[:limit]
    return [(path, read_image(root / path)[0]) for path in paths]


def _tflite_bytes(module: ServingModule) -> bytes:
    """The weights are folded into constants first: converted as they are, Keras 3's variables stayed resource
    variables the interpreter never initialised (NaN outputs here)."""
    frozen = convert_variables_to_constants_v2(module.classify.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # runs on any TFLite runtime
    return converter.convert()


def _tflite_runner(path: Path):
    """``image -> probabilities`` through the TFLite interpreter, resizing its input to each image."""
    interpreter = tf.lite.Interpreter(model_path=str(path))
    (source,), (result,) = interpreter.get_input_details(), interpreter.get_output_details()

    def run(image):
        interpreter.resize_tensor_input(source["index"], image.shape, strict=False)
        interpreter.allocate_tensors()
        interpreter.set_tensor(source["index"], image)
        interpreter.invoke()
        return interpreter.get_tensor(result["index"])

    return run


def export_run(run_dir, out=None, export_format: str = "savedmodel", parity_images: int = 200) -> dict:
    """Export the run in ``run_dir`` to ``out`` (default RUN/export); returns the export record with the parity
    (max |p_export - p_keras| over the test images)."""
    if export_format not in FORMATS:
        raise SrasError(f"unknown export format {export_format!r}; choose one of {', '.join(FORMATS)}")
    run_dir = Path(run_dir)
    out = Path(out) if out else run_dir / "export"
    predictor = Predictor(run_dir)
    preprocessing = predictor.preprocessing
    sr_model = None if predictor.sr_model is None else float32_model(predictor.sr_model)
    module = ServingModule(float32_model(predictor.model), preprocessing, sr_model)
    make_folder(out)
    if export_format == "savedmodel":
        target = out / "savedmodel"
        partial = out / f".savedmodel.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        tf.saved_model.save(module, str(partial), signatures={SIGNATURE: module.classify})
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
        loaded = tf.saved_model.load(str(target)).signatures[SIGNATURE]
        exported = lambda image: loaded(image=tf.constant(image))["probabilities"].numpy()  # noqa: E731
    else:
        target = out / "model.tflite"
        with atomic_path(target) as temporary:
            temporary.write_bytes(_tflite_bytes(module))
        exported = _tflite_runner(target)

    samples = test_images(predictor.run_data, parity_images)
    if not samples:
        raise SrasError(f"{run_dir}: its dataset has no test images to check the export against")
    reference = predictor.probabilities(predictor.prepare([predictor.as_trained(image) for _, image in samples]))
    outputs = np.stack([exported(image) for _, image in samples])
    differences = np.abs(outputs - reference).max(axis=1)
    record = {
        "format": export_format,
        "path": str(target),
        "signature": SIGNATURE,
        "input": "one (H, W) uint8 grayscale chromosome image, any size",
        "output": "probabilities (24,)",
        "preprocessing": {
            **preprocessing.to_dict(),
            "data_dir": predictor.run_data.data_dir,
            "test_part": predictor.run_data.test,
        },
        "parity": {
            "images": len(samples),
            "max_abs_diff": float(differences.max()),
            "top1_agreement": float(np.mean(outputs.argmax(1) == reference.argmax(1))),
        },
        "env": environment(),
    }
    write_json_atomic(out / f"export-{export_format}.json", record)
    return record
