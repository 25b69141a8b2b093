"""The run-folder records: each written and read in one place, versioned, an old folder read, a newer one refused."""

import json

import pytest

from sras_keras.configs.convert import ConvertConfig, SplitConfig
from sras_keras.configs.inference import Preprocessing
from sras_keras.configs.records import (
    ClassifierMetrics,
    EarlyStopping,
    Environment,
    ExperimentRow,
    Manifest,
    PretrainStage,
    RunData,
    SizeEvidenceFit,
    Splits,
    SRApply,
    TrainingState,
    read_config,
    read_record,
    write_config,
    write_record,
)
from sras_keras.configs.sr import SRTrainConfig
from sras_keras.core.errors import SrasError
from sras_keras.core.provenance import environment
from sras_keras.data.convert import convert
from sras_keras.data.synthetic import write_synthetic_dataset


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    root = tmp_path_factory.mktemp("records")
    write_synthetic_dataset(root / "source", n_cells=10, seed=0, male_fraction=0.5)
    config = ConvertConfig(
        image_size=24, rotations=2, smote=True, split=SplitConfig("holdout", val_fraction=0.2, test_fraction=0.3)
    )
    return convert(root / "source", root / "out", config, log=lambda line: None), root / "out"


def test_manifest_and_splits_read_back_as_written(converted):
    manifest, out = converted
    assert read_record(Manifest, out) == manifest
    document = json.loads((out / "manifest.json").read_text())
    assert document["format_version"] == Manifest.FORMAT_VERSION and document["config"]["rotations"] == 2
    splits = read_record(Splits, out)
    assert splits.config == manifest.config.split and {image.part for image in splits.images} == set(manifest.parts)
    assert any(image.synthetic and len(image.parents) == 2 for image in splits.images)
    raw = json.loads((out / "splits.json").read_text())["images"]
    assert all("class" in entry and ("synthetic" in entry) == entry["path"].startswith("smote/") for entry in raw)


def test_a_folder_from_before_versioning_is_read_with_the_defaults_of_then(converted, tmp_path):
    _, out = converted
    document = json.loads((out / "manifest.json").read_text())
    del document["format_version"], document["config"]["invert"], document["config"]["magnify"], document["canvas"]
    (tmp_path / "manifest.json").write_text(json.dumps(document))
    old = read_record(Manifest, tmp_path)
    assert old.config.invert is False and old.config.magnify == 1.0 and old.canvas is None


def test_a_newer_format_and_a_broken_file_are_refused_naming_the_file(converted, tmp_path):
    _, out = converted
    document = json.loads((out / "manifest.json").read_text())
    (tmp_path / "manifest.json").write_text(json.dumps({**document, "format_version": Manifest.FORMAT_VERSION + 1}))
    with pytest.raises(SrasError, match=r"manifest.json: format version 2, newer than this sras-keras reads"):
        read_record(Manifest, tmp_path)
    del document["shards"]
    (tmp_path / "manifest.json").write_text(json.dumps(document))
    with pytest.raises(SrasError, match=r"manifest.json: not a valid manifest.json of format 1 \(no field 'shards'\)"):
        read_record(Manifest, tmp_path)
    (tmp_path / "data.json").write_text("{not json")
    with pytest.raises(SrasError, match="data.json: not readable JSON"):
        read_record(RunData, tmp_path)
    with pytest.raises(SrasError, match="metrics.json: missing"):
        read_record(ClassifierMetrics, tmp_path)


def test_run_data_round_trips(tmp_path):
    data = RunData("d", ["train"], "val", "test", "honest", SplitConfig("holdout", group_by="cell"), smote=True)
    write_record(tmp_path, data)
    assert read_record(RunData, tmp_path) == data


def test_an_sr_config_round_trips_with_its_tuples(tmp_path):
    write_config(tmp_path, SRTrainConfig(halve_at=(3, 6)))
    assert read_config(SRTrainConfig, tmp_path) == SRTrainConfig(halve_at=(3, 6))


ROW = ExperimentRow(
    name="resnet34-two_step-Q-paper",
    label="ResNet-34, two-step, Q band",
    protocol="paper",
    data="tfrecords/converted/abc",
    wall_seconds=61.5,
    fold=2,
    folds=(0, 1, 2),
    tags=(("architecture", "ResNet-34"), ("band", "Q")),
    paper_per_class=(("X", 97.87, 97.87, 95.74, 96.79),),
    pretrain_wall_seconds=30.0,
)
SR_APPLY = SRApply(
    model="runs/srafbn/k/model.keras",
    scale=2,
    source="/data/bioimlab",
    images=5474,
    seconds=120.5,
    images_per_s=45.4,
    env={"python": "3.12.0"},
    cropped_to_foreground_with_margin=4,
)
PREPROCESSING = Preprocessing(
    preprocess="iam",
    image_size=224,
    threshold=20,
    placement="center",
    magnify=1.0,
    background=255,
    invert=False,
    canvas={"size": 256, "background": 255},
    sr_model="sr_model.keras",
    class_names=("1", "2", "X", "Y"),
)
SCORES = {
    "accuracy_argmax": 0.9,
    "accuracy_assigned": 0.95,
    "sex_correct_cells": 9,
    "sex_cells": 10,
    "cells_all_assigned_right": 4,
    "macro_f1_argmax": 0.89,
}
SIZE_EVIDENCE = SizeEvidenceFit(
    evidence={"mean": [0.5, -0.5], "std": [0.1, 0.2], "weight": 0.7, "min_cell_images": 10},
    tta=True,
    weight_chosen_on="val",
    weight_chosen_on_test_set=False,
    validation_by_weight={0.0: {"log_loss": 0.4, "accuracy": 0.88}, 0.7: {"log_loss": 0.3, "accuracy": 0.9}},
    test_images=460,
    test_cells=10,
    test_cells_whole=True,
    images_without_size_evidence=0,
    test={"without": {**SCORES, "accuracy_argmax": 0.87}, "with": SCORES},
    env={"python": "3.12.0"},
)


@pytest.mark.parametrize(
    "record",
    [
        Environment.from_dict(environment(seed=3, data_checksum="abc")),
        ROW,
        PretrainStage(wall_seconds=12.5),
        SR_APPLY,
        SIZE_EVIDENCE,
        PREPROCESSING,
    ],
    ids=lambda record: record.FILE,
)
def test_the_run_folder_records_round_trip_versioned_and_refuse_a_newer_format(record, tmp_path):
    path = write_record(tmp_path, record)
    assert path.name == record.FILE and json.loads(path.read_text())["format_version"] == record.FORMAT_VERSION
    assert read_record(type(record), tmp_path) == record
    path.write_text(json.dumps({**record.to_dict(), "format_version": record.FORMAT_VERSION + 1}))
    with pytest.raises(SrasError, match=rf"{record.FILE}: format version 2, newer than this sras-keras reads"):
        read_record(type(record), tmp_path)


def test_run_folder_records_from_before_versioning_are_read_with_the_defaults_of_then(tmp_path):
    env = Environment.from_dict(environment(seed=0)).to_dict()
    del env["precision"]  # recorded since mixed precision
    (tmp_path / "env.json").write_text(json.dumps(env))
    assert read_record(Environment, tmp_path).precision is None
    # the first recipes' rows: no fold, folds, tags, size evidence, per-class numbers or pretraining time
    first = {"name": "base-honest", "label": "base", "sr": False, "paper_accuracy": 91.69, "protocol": "honest"}
    (tmp_path / "row.json").write_text(json.dumps({**first, "data": "converted/x", "wall_seconds": 552.0}))
    old = read_record(ExperimentRow, tmp_path)
    assert old.fold is None and old.tags == () and old.pretrain_wall_seconds is None and old.paper_accuracy == 91.69
    apply = SR_APPLY.to_dict()
    del apply["cropped_to_foreground_with_margin"]  # whole images were upscaled then
    (tmp_path / "sr_apply.json").write_text(json.dumps(apply))
    assert read_record(SRApply, tmp_path).cropped_to_foreground_with_margin is None
    (tmp_path / "stage.json").write_text(json.dumps({"wall_seconds": 7.0}))
    assert read_record(PretrainStage, tmp_path) == PretrainStage(7.0)
    del first["label"]
    (tmp_path / "row.json").write_text(json.dumps(first))
    with pytest.raises(SrasError, match="row.json: not a valid row.json of format 1"):
        read_record(ExperimentRow, tmp_path)


EARLY_STOPPING = EarlyStopping(best=0.82, best_epoch=3, wait=1, monitor="val_accuracy")


@pytest.mark.parametrize(
    "state",
    [TrainingState(4, {"loss": 0.5, "val_accuracy": 0.8}, EARLY_STOPPING), TrainingState(2, {"loss": 0.1})],
    ids=["classifier", "sr"],
)
def test_the_training_state_round_trips_flat_and_refuses_a_newer_format(state, tmp_path):
    """The early-stopping counters sit beside epoch and logs in the file, and an SR run's state has none."""
    (tmp_path / "checkpoints").mkdir()
    path = write_record(tmp_path, state)
    assert path == tmp_path / "checkpoints" / "state.json"
    counters = {"best", "best_epoch", "wait", "monitor"} if state.early_stopping else set()
    assert set(json.loads(path.read_text())) == {"format_version", "epoch", "logs", *counters}
    assert read_record(TrainingState, tmp_path) == state
    path.write_text(json.dumps({**state.to_dict(), "format_version": TrainingState.FORMAT_VERSION + 1}))
    with pytest.raises(SrasError, match=r"checkpoints/state.json: format version 2, newer than this sras-keras"):
        read_record(TrainingState, tmp_path)


def test_a_training_state_from_before_versioning_resumes(tmp_path):
    """As every classifier run wrote it: epoch, logs and the early-stopping counters (-inf: no best yet)."""
    (tmp_path / "checkpoints").mkdir()
    unversioned = {"epoch": 2, "logs": {"loss": 1.5}, "best": float("-inf"), "best_epoch": 0, "wait": 2}
    (tmp_path / "checkpoints" / "state.json").write_text(json.dumps({**unversioned, "monitor": "val_accuracy"}))
    state = read_record(TrainingState, tmp_path)
    assert state == TrainingState(2, {"loss": 1.5}, EarlyStopping(float("-inf"), 0, 2, "val_accuracy"))
    (tmp_path / "checkpoints" / "state.json").write_text(json.dumps(unversioned))  # a counter missing
    with pytest.raises(SrasError, match="state.json: not a valid checkpoints/state.json of format 1"):
        read_record(TrainingState, tmp_path)


def test_size_evidence_of_each_kind_has_its_file_and_the_first_fits_still_read(tmp_path):
    path = write_record(tmp_path / "size_evidence_tta.json", SIZE_EVIDENCE)
    assert read_record(SizeEvidenceFit, path) == SIZE_EVIDENCE and not (tmp_path / "size_evidence.json").exists()
    assert list(json.loads(path.read_text())) == ["format_version", *SIZE_EVIDENCE.to_dict()]
    # the first fits: single view, the weight chosen by validation accuracy, no cell-bn field, no format version
    first = SIZE_EVIDENCE.to_dict()
    del first["tta"], first["cell_bn"], first["validation_by_weight"]
    first["validation_accuracy_by_weight"] = {"0.0": 0.88, "0.7": 0.9}
    (tmp_path / "size_evidence.json").write_text(json.dumps(first))
    old = read_record(SizeEvidenceFit, tmp_path)
    assert not old.tta and not old.cell_bn and old.test == SIZE_EVIDENCE.test
    assert old.validation_by_weight == {0.0: {"accuracy": 0.88}, 0.7: {"accuracy": 0.9}}
