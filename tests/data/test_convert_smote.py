"""SMOTE inside the conversion: honest (training parts only, separate shards) and the paper's order."""

import collections
import json

import pytest
import tensorflow as tf

from sras_keras.configs.convert import ConvertConfig, SplitConfig
from sras_keras.core.errors import SrasError
from sras_keras.data.convert import convert
from sras_keras.data.labels import X_INDEX, Y_INDEX
from sras_keras.data.pipeline import load_manifest, make_dataset, record_decoder, shard_files
from tests.conftest import write_bioimlab_tree


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return write_bioimlab_tree(tmp_path_factory.mktemp("smote") / "source", cells=8, male_cells=(1, 2, 3, 4, 5))


def records(out, parts, **kinds):
    decode = record_decoder(load_manifest(out))
    paths = shard_files(out, parts, manifest=load_manifest(out), **kinds)
    return [decode(r) for path in paths for r in tf.data.TFRecordDataset(path)]


def test_honest_smote_touches_training_records_only(source, tmp_path):
    config = ConvertConfig(
        split=SplitConfig("holdout", seed=0, val_fraction=0.25, test_fraction=0.25),
        rotations=2,
        image_size=32,
        smote=True,
    )
    manifest = convert(source, tmp_path / "out", config, log=lambda line: None)
    train_counts = manifest.counts["images"]["train"]
    largest = max(train_counts.values())
    expected = (largest - train_counts["X"]) + (largest - train_counts["Y"])
    assert manifest.counts["synthetic"] == {"train": expected, "val": 0, "test": 0} and expected > 0

    training = records(tmp_path / "out", ["train"], rotated_copies=True, synthetic=True)
    synthetic = [r for r in training if int(r["synthetic"])]
    assert len(synthetic) == 2 * expected  # rotated copies of the synthetic images too
    labels = collections.Counter(int(r["label"]) for r in training if float(r["rotation"]) == 0)
    assert labels[X_INDEX] == labels[Y_INDEX] == largest

    splits = json.loads((tmp_path / "out" / "splits.json").read_text())
    parts_of = {entry["path"]: entry["part"] for entry in splits["images"]}
    for entry in splits["images"]:
        if entry.get("synthetic"):
            assert entry["part"] == "train" and all(parts_of[p] == "train" for p in entry["parents"])
    for record in synthetic:
        assert all(parts_of[p] == "train" for p in record["parents"].numpy().decode().split("|"))

    for part in ("val", "test"):
        assert not any(
            int(r["synthetic"]) for r in records(tmp_path / "out", [part], rotated_copies=True, synthetic=True)
        )
    evaluation = make_dataset(tmp_path / "out", "train", rotated_copies=False, synthetic=False, batch_size=512)
    assert len(next(iter(evaluation))[1]) == sum(train_counts.values())

    from sras_keras.data.sr_pairs import load_hr_images

    images, entries, _ = load_hr_images(tmp_path / "out", ["train"])  # SR learns from the real images only
    assert len(images) == len(entries) == sum(train_counts.values())
    assert not any(entry.synthetic for entry in entries)


def test_paper_order_smotes_before_the_split(source, tmp_path):
    config = ConvertConfig(split=SplitConfig("paper", seed=0), image_size=32, smote=True, smote_scope="all")
    manifest = convert(source, tmp_path / "out", config, log=lambda line: None)
    labels = collections.Counter()
    for part in ("train", "test"):
        labels.update(int(r["label"]) for r in records(tmp_path / "out", [part], rotated_copies=False))
    assert labels[X_INDEX] == labels[Y_INDEX] == labels[0] == 16
    assert sum(manifest.counts["synthetic"].values()) == (16 - 11) + (16 - 5)
    assert not any(shard.kind == "smote" for shard in manifest.shards)


def test_same_seed_same_smote_samples(source, tmp_path):
    config = ConvertConfig(split=SplitConfig("kfold", folds=2, group_by="cell"), image_size=24, smote=True)
    convert(source, tmp_path / "a", config, log=lambda line: None)
    convert(source, tmp_path / "b", config, log=lambda line: None)
    smote = sorted(p.name for p in (tmp_path / "a").glob("*-smote-*"))
    assert smote and all((tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes() for n in smote)


def test_smote_needs_the_class_in_the_training_split(tmp_path):
    lonely = write_bioimlab_tree(tmp_path / "source", cells=4, male_cells=(1,))
    config = ConvertConfig(split=SplitConfig("holdout", seed=0), image_size=24, smote=True)
    with pytest.raises(SrasError, match="class Y: the training split holds 1 image"):
        convert(lonely, tmp_path / "out", config, log=lambda line: None)
    assert not (tmp_path / "out").exists()
