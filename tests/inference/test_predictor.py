"""The prediction path's preprocessing: read once from the run, the SR model loaded only for images that need it,
and each step one definition shared by ``Predictor``, the exported ``ServingModule`` and ``sras sr apply``."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

import sras_keras.inference.predictor as predictor_module
from sras_keras.configs.records import Manifest, RunData, read_record
from sras_keras.core.errors import SrasError
from sras_keras.data.readers import read_image
from sras_keras.inference.export import ServingModule
from sras_keras.inference.predictor import Predictor, predict_records
from sras_keras.inference.upscale import compiled_forward, crop_with_margin, upscale_batch, upscale_image


def _source_images(tiny_run, count: int = 8) -> list[np.ndarray]:
    return [read_image(path)[0] for path in sorted((tiny_run / "source" / "1").iterdir())[:count]]


def test_a_run_from_before_preprocessing_json_reads_its_chain_from_its_dataset(sr_run):
    preprocessing = predictor_module.run_preprocessing(sr_run / "run")
    assert preprocessing == predictor_module.dataset_preprocessing(sr_run / "data")
    assert preprocessing.sr_model == str(sr_run / "srafbn.keras") and preprocessing.image_size == 32
    predictor = Predictor(sr_run / "run")
    assert predictor.run_data == read_record(RunData, sr_run / "run")
    assert predictor.manifest == read_record(Manifest, sr_run / "data")


def test_the_sr_model_is_loaded_only_when_an_image_needs_upscaling(sr_run, tiny_run, monkeypatch):
    """An SR run's converted records are upscaled already: predicting them (``sras evaluate``) never loads it."""
    loads = []
    load = predictor_module.load_sr_model
    monkeypatch.setattr(predictor_module, "load_sr_model", lambda path: loads.append(path) or load(path))
    predictor = Predictor(sr_run / "run")
    images, probabilities = predict_records(predictor, sr_run / "data", ["test"])
    assert len(images) == len(probabilities) > 0 and loads == []
    image = _source_images(tiny_run, 1)[0]
    predictor.prepare([image])
    predictor.prepare([image])
    assert loads == [sr_run / "srafbn.keras"]


def test_a_missing_sr_model_fails_only_where_it_is_needed(sr_run, tiny_run, tmp_path, monkeypatch):
    read = predictor_module.run_preprocessing
    gone = str(tmp_path / "gone.keras")
    monkeypatch.setattr(
        predictor_module, "run_preprocessing", lambda run: dataclasses.replace(read(run), sr_model=gone)
    )
    predictor = Predictor(sr_run / "run")
    images, _ = predict_records(predictor, sr_run / "data", ["test"])
    assert images
    with pytest.raises(SrasError, match="trained on SRAFBN-upscaled images, but the SR model .*gone.keras is missing"):
        predictor.prepare(_source_images(tiny_run, 1))


def test_the_predictor_upscales_an_image_as_the_exported_graph(sr_run, tiny_run):
    """One image at a time, ``Predictor`` and the ``ServingModule`` run the same steps: equal to float rounding."""
    predictor = Predictor(sr_run / "run")
    module = ServingModule(predictor.model, predictor.preprocessing, predictor.sr_model)
    for image in _source_images(tiny_run):
        served = module.classify(tf.constant(image))["probabilities"].numpy()
        np.testing.assert_allclose(predictor.probabilities(predictor.prepare([image]))[0], served, atol=1e-6)
        upscaled = predictor.upscale([image])[0]
        assert upscaled.shape == tuple(2 * n for n in crop_with_margin(image, 0).shape)


def test_a_batch_of_one_is_the_per_image_definition(sr_run, tiny_run):
    """``sras sr apply`` and ``Predictor`` batch the crop and SR step the export traces per image; they scale grey
    levels in NumPy, the graph in TensorFlow, so a pixel at a rounding boundary may differ by one level."""
    model = Predictor(sr_run / "run").sr_model
    for image in _source_images(tiny_run, 4):
        crop = crop_with_margin(image, 0).numpy()
        (batched,) = upscale_batch(model, compiled_forward(model), [crop], [0])
        single = upscale_image(model, 0)(image).numpy()
        assert batched.shape == single.shape
        assert np.abs(batched.astype(int) - single).max() <= 1
