import collections
import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf

from sras_keras.configs.convert import ConvertConfig, SplitConfig
from sras_keras.core.errors import SrasError
from sras_keras.data import convert as convert_module
from sras_keras.data.convert import convert
from sras_keras.data.iam import iam
from sras_keras.data.inspect import verify
from sras_keras.data.pipeline import load_manifest, record_decoder, shard_files
from sras_keras.data.readers import read_image

CONFIG = ConvertConfig(
    split=SplitConfig("holdout", seed=0, val_fraction=0.25, test_fraction=0.25),
    rotations=4,
    image_size=32,
    records_per_shard=40,
)


def read_all(out, parts, rotated_copies=True):
    records = []
    decode_record = record_decoder(load_manifest(out))
    for path in shard_files(out, parts, rotated_copies):
        records += [decode_record(serialized) for serialized in tf.data.TFRecordDataset(path)]
    return records


def shard_bytes(out):
    return {path.name: path.read_bytes() for path in sorted(out.glob("*.tfrecord"))}


def test_round_trip_with_rotations_on_training_records_only(bioimlab_tree, tmp_path):
    out = tmp_path / "out"
    manifest = convert(bioimlab_tree, out, CONFIG, log=lambda line: None)
    assert manifest.parts == ["train", "val", "test"]
    assert manifest.background == "black"
    cells = {part: {r["cell_id"].numpy() for r in read_all(out, [part])} for part in manifest.parts}
    assert not (cells["train"] & cells["val"]) and not (cells["train"] & cells["test"])

    train = read_all(out, ["train"])
    sources = collections.Counter(r["source_path"].numpy() for r in train)
    assert set(sources.values()) == {4}
    angles = collections.defaultdict(set)
    for record in train:
        angles[record["source_path"].numpy()].add(round(float(record["rotation"]), 3))
    assert all(a == {0.0, 90.0, 180.0, 270.0} for a in angles.values())
    assert manifest.counts["records"]["train"] == len(train) == 4 * sum(manifest.counts["images"]["train"].values())

    for part in ("val", "test"):
        records = read_all(out, [part])
        assert {float(r["rotation"]) for r in records} == {0.0}
        assert len(records) == sum(manifest.counts["images"][part].values())

    record = train[0]
    assert record["image"].shape == (32, 32, 1) and record["image"].dtype == tf.uint8
    splits = json.loads((out / "splits.json").read_text())
    assert len(splits["images"]) == 4 * 46 and splits["validation_part"] == "val"
    assert not (out / ".sras-convert.json").exists()
    assert verify(out) == []


def test_labels_and_metadata_match_the_source(bioimlab_tree, tmp_path):
    out = tmp_path / "out"
    convert(bioimlab_tree, out, CONFIG, log=lambda line: None)
    for record in read_all(out, ["test", "val"]):
        path = record["source_path"].numpy().decode()
        cell, name = path.split("/")
        number = name.split(" ")[1].removesuffix(".bmp").rstrip("ab")
        expected = {"23": "X", "24": "Y"}.get(number, number)
        assert record["class_name"].numpy().decode() == expected
        assert record["cell_id"].numpy().decode() == cell
        assert int(record["label"]) == (22 if expected == "X" else 23 if expected == "Y" else int(expected) - 1)
        image = record["image"].numpy()
        source, _ = read_image(bioimlab_tree / path)
        np.testing.assert_array_equal(image, iam(source, size=32).numpy())  # stored crop + canvas == IAM
        assert int(record["height"]) < 32 or int(record["width"]) < 32  # the record holds the fitted crop only


def test_kfold_every_fold_gets_rotations(bioimlab_tree, tmp_path):
    config = ConvertConfig(split=SplitConfig("kfold", folds=2, group_by="cell"), rotations=2, image_size=24)
    manifest = convert(bioimlab_tree, tmp_path / "out", config, log=lambda line: None)
    assert manifest.rotated_parts == ["fold0", "fold1"]
    for part in ("fold0", "fold1"):
        assert manifest.counts["records"][part] == 2 * sum(manifest.counts["images"][part].values())
        assert len(read_all(tmp_path / "out", [part], rotated_copies=False)) == sum(
            manifest.counts["images"][part].values()
        )


def test_resume_after_interruption_gives_identical_shards(bioimlab_tree, tmp_path, monkeypatch):
    reference = tmp_path / "reference"
    convert(bioimlab_tree, reference, CONFIG, log=lambda line: None)

    real_write_shard = convert_module.write_shard
    calls = []

    def interrupted_write_shard(path, records):
        calls.append(path)
        if len(calls) == 3:  # die half-way through the third shard
            for i, _ in enumerate(records):
                if i == 5:
                    raise KeyboardInterrupt
        return real_write_shard(path, records)

    out = tmp_path / "out"
    monkeypatch.setattr(convert_module, "write_shard", interrupted_write_shard)
    with pytest.raises(KeyboardInterrupt):
        convert(bioimlab_tree, out, CONFIG, log=lambda line: None)
    monkeypatch.setattr(convert_module, "write_shard", real_write_shard)
    assert not (out / "manifest.json").exists()
    assert len(list(out.glob("*.tfrecord"))) == 2
    (out / ".train-00000-of-00001.tfrecord.999.tmp").write_bytes(b"left by a killed process")

    lines = []
    convert(bioimlab_tree, out, CONFIG, log=lines.append)
    assert any("resuming: 2 of" in line for line in lines)
    assert shard_bytes(out) == shard_bytes(reference)
    assert (out / "splits.json").read_bytes() == (reference / "splits.json").read_bytes()
    assert not list(out.glob(".*.tmp*"))

    lines.clear()
    convert(bioimlab_tree, out, CONFIG, log=lines.append)
    assert any("already converted" in line for line in lines)


def test_out_holding_another_dataset_is_refused(bioimlab_tree, tmp_path):
    out = tmp_path / "out"
    convert(bioimlab_tree, out, CONFIG, log=lambda line: None)
    other = ConvertConfig(split=CONFIG.split, rotations=2, image_size=32)
    with pytest.raises(SrasError, match="already holds a different dataset"):
        convert(bioimlab_tree, out, other, log=lambda line: None)
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "thesis.pdf").write_bytes(b"%PDF")
    with pytest.raises(SrasError, match="not empty and is not a converted dataset"):
        convert(bioimlab_tree, stranger, CONFIG, log=lambda line: None)


def test_bad_image_stops_before_anything_is_written(bioimlab_tree, tmp_path):
    (bioimlab_tree / "3" / "3 5a.bmp").write_bytes(b"")
    out = tmp_path / "out"
    with pytest.raises(SrasError, match="3 5a.bmp: empty file"):
        convert(bioimlab_tree, out, CONFIG, log=lambda line: None)
    assert not out.exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"magnify": 0.5}, "must be a finite number of at least 1"),
        ({"magnify": float("inf")}, "must be a finite number of at least 1"),
        ({"magnify": float("nan")}, "must be a finite number of at least 1"),
        ({"magnify": 2.0, "preprocess": "square_resize"}, "iam only"),
    ],
)
def test_bad_magnify_is_refused_before_anything_is_written(bioimlab_tree, tmp_path, changes, message):
    import dataclasses

    with pytest.raises(SrasError, match=message):
        convert(bioimlab_tree, tmp_path / "out", dataclasses.replace(CONFIG, **changes), log=lambda line: None)
    assert not (tmp_path / "out").exists()


def test_image_without_foreground_is_named(bioimlab_tree, tmp_path):
    from PIL import Image

    Image.fromarray(np.full((20, 10), 3, dtype=np.uint8)).save(bioimlab_tree / "2" / "2 7b.bmp")
    with pytest.raises(SrasError, match="2 7b.bmp: no foreground"):
        convert(bioimlab_tree, tmp_path / "out", CONFIG, log=lambda line: None)


def test_duplicates_across_parts_are_reported(bioimlab_tree, tmp_path):
    source = bioimlab_tree / "1" / "1 1a.bmp"
    (bioimlab_tree / "4" / "4 1a.bmp").write_bytes(source.read_bytes())
    config = ConvertConfig(split=SplitConfig("kfold", folds=4, group_by="cell"), image_size=24)
    lines = []
    manifest = convert(bioimlab_tree, tmp_path / "out", config, log=lines.append)
    assert manifest.duplicates_across_parts == [["1/1 1a.bmp", "4/4 1a.bmp"]]
    assert any("identical images in different parts" in line for line in lines)


def test_verify_catches_a_flipped_byte_and_a_missing_shard(bioimlab_tree, tmp_path):
    out = tmp_path / "out"
    manifest = convert(bioimlab_tree, out, CONFIG, log=lambda line: None)
    shard = out / manifest.shards[0].file
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    (out / manifest.shards[1].file).unlink()
    problems = verify(out)
    assert any(shard.name in p and "sha256" in p for p in problems)
    assert any(shard.name in p and "corrupt record" in p for p in problems)
    assert any(manifest.shards[1].file in p and "missing" in p for p in problems)


def test_square_resize_and_white_background(class_tree, tmp_path):
    config = ConvertConfig(
        cell_regex=r"_([^_]+)$",
        preprocess="square_resize",
        image_size=40,
        split=SplitConfig("kfold", folds=3, group_by="cell"),
    )
    manifest = convert(class_tree, tmp_path / "out", config, log=lambda line: None)
    assert manifest.background == "white" and manifest.source.layout == "class_folders"
    image = read_all(tmp_path / "out", ["fold0"])[0]["image"].numpy()[..., 0]
    assert image.shape == (40, 40) and image.min() < 150 and image[:, 0].min() > 200  # padded with white at the sides


def test_invert_gives_the_negative_on_a_black_ground(class_tree, tmp_path):
    """The G band (dark bands on white) inverted reads like the Q band: a plain conversion's negative."""
    config = ConvertConfig(cell_regex=r"_([^_]+)$", image_size=40, split=SplitConfig("kfold", folds=3, group_by="cell"))
    plain = convert(class_tree, tmp_path / "plain", config, log=lambda line: None)
    inverted = convert(
        class_tree, tmp_path / "inverted", dataclasses.replace(config, invert=True), log=lambda line: None
    )
    assert (plain.background, inverted.background) == ("white", "black")
    by_path = {
        r["source_path"].numpy(): r["image"].numpy().astype(int) for r in read_all(tmp_path / "plain", ["fold0"])
    }
    records = read_all(tmp_path / "inverted", ["fold0"])
    assert records and {r["source_path"].numpy() for r in records} == set(by_path)
    for record in records:
        negative = 255 - by_path[record["source_path"].numpy()]
        assert np.abs(record["image"].numpy().astype(int) - negative).max() <= 1  # resampling rounds either way


def test_two_jobs_converting_into_one_folder_take_turns(bioimlab_tree, tmp_path):
    """A second job (two recipes sharing a cached dataset) waits for the first instead of writing beside it."""
    import threading
    import time

    from sras_keras.core.io import exclusive

    out, waiting, later = tmp_path / "out", [], []
    with exclusive(out):  # a first job is building it
        second = threading.Thread(target=convert, args=(bioimlab_tree, out, CONFIG), kwargs={"log": waiting.append})
        second.start()
        time.sleep(0.5)
        assert second.is_alive() and waiting == [f"{out}: another job is building it; waiting for it"]
        assert not out.exists()
    second.join(120)
    assert not second.is_alive() and (out / "manifest.json").is_file()
    convert(bioimlab_tree, out, CONFIG, log=later.append)
    assert any("already converted" in line for line in later)
