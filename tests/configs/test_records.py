"""The run-folder records: each written and read in one place, versioned, an old folder read, a newer one refused."""

import json

import pytest

from sras_keras.configs.convert import ConvertConfig, SplitConfig
from sras_keras.configs.records import (
    ClassifierMetrics,
    Manifest,
    RunData,
    Splits,
    read_config,
    read_record,
    write_config,
    write_record,
)
from sras_keras.configs.sr import SRTrainConfig
from sras_keras.configs.train import TrainConfig
from sras_keras.core.errors import SrasError
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


def test_a_version_1_train_config_is_read_in_the_new_names(tmp_path):
    config = TrainConfig(backbone="resnet_small_bn", rotated_copies=False, zoom=0.2)
    write_config(tmp_path, config)
    assert read_config(TrainConfig, tmp_path) == config
    document = config.to_dict()
    document["rotations"], document["scale"] = document.pop("rotated_copies"), document.pop("zoom")
    (tmp_path / "config.json").write_text(json.dumps(document))  # no format_version: version 1
    assert read_config(TrainConfig, tmp_path) == config
    (tmp_path / "config.json").write_text(json.dumps({**config.to_dict(), "format_version": 2, "zoom": -1}))
    with pytest.raises(SrasError, match="config.json: zoom must be >= 0"):
        read_config(TrainConfig, tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**config.to_dict(), "format_version": 2, "colour": 1}))
    with pytest.raises(SrasError, match="config.json: not a valid TrainConfig"):
        read_config(TrainConfig, tmp_path)


def test_an_sr_config_round_trips_with_its_tuples(tmp_path):
    write_config(tmp_path, SRTrainConfig(halve_at=(3, 6)))
    assert read_config(SRTrainConfig, tmp_path) == SRTrainConfig(halve_at=(3, 6))
