"""A trained run folder is self-contained: copied alone elsewhere, with its dataset and the SR model's original gone,
``sras predict`` on images gives the same predictions; a run from before ``preprocessing.json`` still predicts while
its dataset is there."""

import dataclasses
import shutil

import pytest
from click.testing import CliRunner

from sras_keras.cli import main
from sras_keras.configs.inference import Preprocessing
from sras_keras.configs.records import RunData, read_record, write_record
from sras_keras.core.errors import SrasError
from sras_keras.core.run_files import PREPROCESSING, SR_MODEL
from sras_keras.inference.predict import predict
from sras_keras.inference.predictor import Predictor, dataset_preprocessing, write_preprocessing
from tests.inference.conftest import upscaled_copy


def _own_copy(tiny_run, root):
    """``tiny_run``'s run folder and dataset in ``root``, the run pointing at that dataset: deletable."""
    shutil.copytree(tiny_run / "data", root / "data")
    shutil.copytree(tiny_run / "run", root / "run")
    data = read_record(RunData, root / "run")
    write_record(root / "run", dataclasses.replace(data, data_dir=str(root / "data")))
    return root


def _predict_on_the_copy(run, images, tmp_path):
    """``sras predict`` on a copy of ``run`` alone, after ``run`` itself is deleted."""
    copy = tmp_path / "elsewhere" / "run"
    shutil.copytree(run, copy)
    shutil.rmtree(run.parent)
    result = CliRunner().invoke(
        main, ["predict", "--model", str(copy), *map(str, images), "--out", str(tmp_path / "after")]
    )
    assert result.exit_code == 0, result.output
    return copy, (tmp_path / "after" / "predictions.csv").read_text()


def test_training_records_the_chain_of_its_dataset(tiny_run):
    recorded = read_record(Preprocessing, tiny_run / "run")
    assert recorded == dataset_preprocessing(tiny_run / "data") and recorded.sr_model is None
    assert not (tiny_run / "run" / SR_MODEL).exists()


def test_a_copied_run_predicts_the_same_without_its_dataset(tiny_run, tmp_path):
    root = _own_copy(tiny_run, tmp_path / "original")
    images = [tiny_run / "source" / "1", tiny_run / "source" / "2"]
    predict(root / "run", images, tmp_path / "before")
    copy, after = _predict_on_the_copy(root / "run", images, tmp_path)
    assert after == (tmp_path / "before" / "predictions.csv").read_text()
    with pytest.raises(SrasError, match="training data .* is gone .*predicting on its records needs it"):
        _ = Predictor(copy).manifest


def test_a_copied_sr_run_upscales_with_its_own_copy_of_the_sr_model(tiny_run, tmp_path):
    root = upscaled_copy(tiny_run, tmp_path / "original")
    assert write_preprocessing(root / "run", root / "data").sr_model == SR_MODEL  # what training does
    images = [tiny_run / "source" / "1"]
    predict(root / "run", images, tmp_path / "before")
    _, after = _predict_on_the_copy(root / "run", images, tmp_path)  # the dataset and srafbn.keras go with root
    assert after == (tmp_path / "before" / "predictions.csv").read_text()


def test_a_run_from_before_preprocessing_json_predicts_while_its_dataset_is_there(tiny_run, tmp_path):
    root = _own_copy(tiny_run, tmp_path / "original")
    (root / "run" / PREPROCESSING).unlink()
    images = [tiny_run / "source" / "1"]
    for run, out in ((tiny_run / "run", "recorded"), (root / "run", "read")):
        predict(run, images, tmp_path / out)
    read, recorded = ((tmp_path / out / "predictions.csv").read_text() for out in ("read", "recorded"))
    assert read == recorded
    shutil.rmtree(root / "data")
    with pytest.raises(SrasError, match="training data .* is gone .*a run without preprocessing.json reads its chain"):
        predict(root / "run", images, tmp_path / "gone")


def test_a_run_trained_on_other_classes_is_refused(tiny_run, tmp_path):
    root = _own_copy(tiny_run, tmp_path / "original")
    recorded = read_record(Preprocessing, root / "run")
    write_record(root / "run", dataclasses.replace(recorded, class_names=recorded.class_names[:-1]))
    with pytest.raises(SrasError, match="trained on the classes 1, 2, .*, X, not the 24"):
        Predictor(root / "run")
