"""The real BioImLab Q-band set (../shared/data/bioimlab), converted at a reduced size to stay short."""

import collections
import json

import pytest

from sras_keras.configs.convert import ConvertConfig, SplitConfig
from sras_keras.data.convert import convert
from sras_keras.data.readers import scan_source
from sras_keras.data.splits import assign_parts
from tests.conftest import require_real_set

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def bioimlab(real_data_dir):
    return require_real_set(real_data_dir, "bioimlab")


@pytest.fixture(scope="module")
def images(bioimlab):
    layout, images = scan_source(bioimlab)
    assert layout == "bioimlab"
    return images


@pytest.fixture(scope="module")
def converted(bioimlab, tmp_path_factory):
    out = tmp_path_factory.mktemp("bioimlab") / "kfold"
    config = ConvertConfig(split=SplitConfig("kfold", seed=0, group_by="cell"), rotations=2, image_size=32)
    return out, convert(bioimlab, out, config, log=lambda line: None)


def test_class_counts(images):
    counts = collections.Counter(image.class_name for image in images)
    assert len(images) == 5474
    assert all(counts[str(n)] == 238 for n in range(1, 23))
    assert counts["X"] == 193 and counts["Y"] == 45
    assert len({image.cell_id for image in images}) == 119


def test_paper_split_sizes(images):
    parts = assign_parts(images, SplitConfig("paper", seed=0))
    assert collections.Counter(parts) == {"train": 4379, "test": 1095}
    test = collections.Counter(image.class_name for image, part in zip(images, parts) if part == "test")
    for name, total in collections.Counter(image.class_name for image in images).items():
        assert abs(test[name] - total / 5) <= 1  # stratified; rounding moves a class by at most one image


def test_holdout_puts_no_cell_in_two_parts(images):
    parts = assign_parts(images, SplitConfig("holdout", seed=0))
    by_cell = collections.defaultdict(set)
    for image, part in zip(images, parts):
        by_cell[image.cell_id].add(part)
    assert all(len(p) == 1 for p in by_cell.values())
    assert collections.Counter(next(iter(p)) for p in by_cell.values()) == {"train": 84, "val": 11, "test": 24}


def test_grouped_kfold_conversion(converted):
    out, manifest = converted
    assert manifest.background == "black" and manifest.background_votes == {"black": 5474}
    splits = json.loads((out / "splits.json").read_text())
    by_cell = collections.defaultdict(set)
    for entry in splits["images"]:
        by_cell[entry["cell_id"]].add(entry["part"])
    assert all(len(p) == 1 for p in by_cell.values())
    per_class = collections.Counter()
    for part in manifest.parts:
        per_class.update(manifest.counts["images"][part])
        assert manifest.counts["records"][part] == 2 * sum(manifest.counts["images"][part].values())
    assert per_class["1"] == 238 and per_class["X"] == 193 and per_class["Y"] == 45
    assert manifest.duplicates_across_parts == []
