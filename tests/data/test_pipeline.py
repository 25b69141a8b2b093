import numpy as np
import pytest

from sras_keras.configs.convert import ConvertConfig, SplitConfig
from sras_keras.core.errors import SrasError
from sras_keras.data.convert import convert
from sras_keras.data.pipeline import make_dataset, record_count


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    from tests.conftest import write_bioimlab_tree

    root = tmp_path_factory.mktemp("pipeline")
    source = write_bioimlab_tree(root / "source", cells=5, male_cells=(1, 2, 3, 4, 5))
    config = ConvertConfig(split=SplitConfig("paper", seed=0), rotations=3, image_size=24, records_per_shard=30)
    manifest = convert(source, root / "out", config, log=lambda line: None)
    return root / "out", manifest


def labels_of(dataset):
    return np.concatenate([labels.numpy() for _, labels in dataset])


def test_batches_cover_every_record(converted):
    out, manifest = converted
    dataset = make_dataset(out, "train", batch_size=16, shuffle=True, seed=1)
    images, labels = next(iter(dataset))
    assert images.shape == (16, 24, 24, 1) and images.dtype.name == "float32"
    assert float(images.numpy().max()) <= 255 and float(images.numpy().max()) > 100
    assert len(labels_of(dataset)) == manifest.counts["records"]["train"]
    without = make_dataset(out, "train", batch_size=16, rotated_copies=False)
    assert len(labels_of(without)) == sum(manifest.counts["images"]["train"].values())


def test_deterministic_order_for_a_seed(converted):
    out, _ = converted
    first = labels_of(make_dataset(out, "train", batch_size=8, shuffle=True, seed=4))
    again = labels_of(make_dataset(out, "train", batch_size=8, shuffle=True, seed=4))
    other = labels_of(make_dataset(out, "train", batch_size=8, shuffle=True, seed=5))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_preprocess_hook_and_metadata(converted):
    out, _ = converted
    hook = lambda image: image / 127.5 - 1.0  # noqa: E731
    images, labels, meta = next(
        iter(make_dataset(out, "test", batch_size=4, preprocess=hook, with_metadata=True, autotune=False))
    )
    assert -1.0 <= float(images.numpy().min()) and float(images.numpy().max()) <= 1.0
    assert set(meta["part"].numpy()) == {b"test"}
    assert meta["source_path"].shape == (4,)


def test_unknown_part(converted):
    out, _ = converted
    with pytest.raises(SrasError, match="no part val"):
        make_dataset(out, "val")


def test_flips_mirror_each_chromosome_before_placement(converted):
    out, _ = converted
    plain = next(iter(make_dataset(out, "test", batch_size=64, autotune=False)))[0].numpy()[..., 0]
    flipped = next(iter(make_dataset(out, "test", batch_size=64, autotune=False, flip="both", seed=3)))[0].numpy()[
        ..., 0
    ]
    again = next(iter(make_dataset(out, "test", batch_size=64, autotune=False, flip="both", seed=3)))[0].numpy()[..., 0]
    np.testing.assert_array_equal(flipped, again)
    mirrored = 0
    for before, after in zip(plain, flipped):
        rows, cols = np.nonzero(before)
        crop = before[: rows.max() + 1, : cols.max() + 1]
        placed = after[: crop.shape[0], : crop.shape[1]]
        variants = [crop, crop[:, ::-1], crop[::-1], crop[::-1, ::-1]]
        assert any(np.array_equal(placed, variant) for variant in variants)  # still top-left, same pixels
        mirrored += not np.array_equal(placed, crop)
    assert 0 < mirrored < len(plain)


def _first_test_images(out, **augmentation):
    """The first 64 test images, (64, S, S), as ``make_dataset`` hands them on with ``augmentation``."""
    return next(iter(make_dataset(out, "test", batch_size=64, autotune=False, **augmentation)))[0].numpy()[..., 0]


def test_contrast_rescales_the_chromosome_not_the_canvas(converted):
    out, _ = converted
    plain, varied = _first_test_images(out), _first_test_images(out, contrast=0.5, seed=3)
    np.testing.assert_array_equal(varied, _first_test_images(out, contrast=0.5, seed=3))
    assert np.array_equal(varied == 0, plain == 0)  # BioImLab's black background and padding stay black
    ratios = [after[before > 0].sum() / before[before > 0].sum() for before, after in zip(plain, varied)]
    assert min(ratios) < 0.95 and max(ratios) > 1.05 and 1 / 1.5 - 1e-3 <= min(ratios)


def test_zoom_zooms_the_chromosome_from_the_canvas_corner(converted):
    out, _ = converted
    plain, zoomed = _first_test_images(out), _first_test_images(out, zoom=0.5, seed=3)
    np.testing.assert_array_equal(zoomed, _first_test_images(out, zoom=0.5, seed=3))
    areas = [((after > 0).sum() / (before > 0).sum()) for before, after in zip(plain, zoomed)]
    assert min(areas) < 0.9 and max(areas) > 1.1
    assert all(image[0].any() or image[:, 0].any() for image in zoomed)  # still anchored at the top-left corner


def test_max_rotation_keeps_copies_near_upright(converted):
    out, manifest = converted  # 3 rotations: 0, 120 and 240 degrees
    originals = sum(manifest.counts["images"]["train"].values())
    for limit, expected in ((0, originals), (119, originals), (120, 3 * originals), (None, 3 * originals)):
        dataset = make_dataset(out, "train", batch_size=16, max_rotation=limit, autotune=False)
        assert len(labels_of(dataset)) == expected == record_count(out, ["train"], True, max_rotation=limit)


@pytest.mark.parametrize("placement", ["top_left", "center"])
def test_batched_canvas_matches_the_per_record_decoder(tmp_path, placement):
    """padded_batch (+ centring) must place every crop exactly where IAM's place_on_canvas does."""
    import tensorflow as tf

    from sras_keras.data.pipeline import load_manifest, record_decoder, shard_files
    from tests.conftest import write_bioimlab_tree

    source = write_bioimlab_tree(tmp_path / "source", cells=5, male_cells=(1, 2, 3, 4, 5))
    config = ConvertConfig(split=SplitConfig("paper", seed=0), image_size=40, placement=placement)
    convert(source, tmp_path / "out", config, log=lambda line: None)
    manifest = load_manifest(tmp_path / "out")
    decode = record_decoder(manifest)
    expected = {
        record["source_path"].numpy(): record["image"].numpy()
        for record in tf.data.TFRecordDataset(shard_files(tmp_path / "out", ["test"], False)).map(decode)
    }
    batches = list(make_dataset(tmp_path / "out", "test", batch_size=5, rotated_copies=False, with_metadata=True))
    seen = 0
    for images, _, metadata in batches:
        for image, path in zip(images.numpy(), metadata["source_path"].numpy()):
            np.testing.assert_array_equal(image, expected[path].astype("float32"))
            seen += 1
    assert seen == len(expected) > 5
    origins = {tuple(np.argwhere(image[..., 0] > 0).min(0)) for image in expected.values()}
    assert origins == {(0, 0)} if placement == "top_left" else len(origins) > 1


@pytest.mark.parametrize("placement", ["top_left", "center"])
def test_cell_batches_fill_each_batch_from_one_cell(tmp_path, placement):
    """Every record once, each batch from one cell; SMOTE's images batched with their first parent's cell."""
    import json

    from tests.conftest import write_bioimlab_tree

    source = write_bioimlab_tree(tmp_path / "source", cells=10, male_cells=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10))
    config = ConvertConfig(
        split=SplitConfig("holdout", seed=0), rotations=2, image_size=24, smote=True, placement=placement
    )
    manifest = convert(source, tmp_path / "out", config, log=lambda line: None)
    images = json.loads((tmp_path / "out" / "splits.json").read_text())["images"]
    cell_of = {image["path"]: image["cell_id"] for image in images}
    home = {
        image["path"]: cell_of[image["parents"][0]] if image.get("synthetic") else image["cell_id"] for image in images
    }
    options = dict(batch_size=8, shuffle=True, seed=2, flip="horizontal", zoom=0.1, cell_batches=True)
    batches = list(make_dataset(tmp_path / "out", "train", with_metadata=True, **options))
    paths = [path.decode() for _, _, metadata in batches for path in metadata["source_path"].numpy()]
    assert all(
        len({home[path.decode()] for path in metadata["source_path"].numpy()}) == 1 for _, _, metadata in batches
    )
    assert len(paths) == record_count(tmp_path / "out", ["train"], True, synthetic=True)
    assert sum(len(labels) == 8 for _, labels, _ in batches) >= len(batches) - len(set(home.values()))
    synthetic = [path for path in paths if path.startswith("smote/")]
    assert synthetic and manifest.counts["synthetic"]["train"] > 0
    plain = list(make_dataset(tmp_path / "out", "train", **options))  # without metadata: (image, label) only
    assert all(len(batch) == 2 and batch[0].shape[1:] == (24, 24, 1) for batch in plain)
    np.testing.assert_array_equal(
        np.concatenate([labels for _, labels in plain]), np.concatenate([labels for _, labels, _ in batches])
    )
    mixed = list(make_dataset(tmp_path / "out", "train", with_metadata=True, **{**options, "cell_batches": False}))
    assert any(len({home[path.decode()] for path in metadata["source_path"].numpy()}) > 1 for _, _, metadata in mixed)


def test_cell_batches_need_cell_ids(tmp_path):
    from tests.conftest import write_class_tree

    source = write_class_tree(tmp_path / "source", cells=3)
    config = ConvertConfig(split=SplitConfig("paper", seed=0), image_size=24)  # holdout would need the cell ids
    convert(source, tmp_path / "out", config, log=lambda line: None)
    with pytest.raises(SrasError, match="no cell ids"):
        make_dataset(tmp_path / "out", "train", cell_batches=True)


def test_each_stage_of_the_pipeline_on_its_own(converted):
    """read -> parse -> select -> decode -> batch on the canvas -> augment -> model input, each checked alone: the
    stages ``make_dataset`` chains."""
    from sras_keras.data import pipeline

    out, manifest = converted
    stage = {"parallel": 1, "deterministic": True}
    files = pipeline.shard_files(out, ["train"], True, manifest)
    records = pipeline.parse_records(pipeline.read_records(files, shuffle=False, seed=0, **stage), None, **stage)
    first = next(iter(records))
    assert {"image", "label", "rotation", "source_path", "cell_id"} <= set(first)
    assert first["image"].dtype.name == "string"  # still the PNG bytes
    upright = pipeline.select_rotations(records, 0)
    assert {float(record["rotation"]) for record in upright} == {0.0}
    decoded = records.map(pipeline.image_decoder(manifest))
    crop = next(iter(decoded))["image"].numpy()
    assert crop.dtype.name == "uint8" and crop.shape[2] == 1 and max(crop.shape[:2]) <= 24  # the fitted crop
    batch = next(iter(pipeline.batch_on_canvas(decoded, manifest, 4, False, **stage)))
    assert batch["image"].shape == (4, 24, 24, 1) and batch["source_path"].shape == (4,)
    h, w = crop.shape[:2]
    np.testing.assert_array_equal(batch["image"].numpy()[0, :h, :w], crop)  # top-left, background elsewhere
    assert not batch["image"].numpy()[0, h:, :].any() and not batch["image"].numpy()[0, :, w:].any()
    augmented = pipeline.augment_batches(
        pipeline.batch_on_canvas(decoded, manifest, 4, False, **stage),
        manifest,
        blur=0.0,
        contrast=0.5,
        zoom=0.0,
        seed=0,
        **stage,
    )
    images = next(iter(augmented))["image"].numpy()
    assert images.dtype.name == "float32" and not np.array_equal(images, batch["image"].numpy().astype("float32"))
    tuples = pipeline.model_inputs(augmented, lambda image: image / 255.0, True, **stage)
    image, label, metadata = next(iter(tuples))
    assert float(image.numpy().max()) <= 1.0 and label.shape == (4,)
    assert "source_path" in metadata and not set(metadata) & {"image", "label", "cell", "crop_shape", "batch_seed"}
