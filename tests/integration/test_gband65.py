"""The real 65-cell G-band set (../shared/data/gband65): class folders, white background, cells in file names."""

import collections
import json

import pytest

from sras_keras.configs.convert import ConvertConfig, SplitConfig
from sras_keras.data.convert import convert
from sras_keras.data.pipeline import make_dataset
from tests.conftest import require_real_set

pytestmark = pytest.mark.realdata


def test_gband65_conversion(real_data_dir, tmp_path):
    source = require_real_set(real_data_dir, "gband65")
    config = ConvertConfig(
        cell_regex=r"_([^_]+)$",
        split=SplitConfig("kfold", seed=0, group_by="cell"),
        preprocess="square_resize",
        image_size=32,
    )
    manifest = convert(source, tmp_path / "out", config, log=lambda line: None)
    assert manifest.source.layout == "class_folders"
    assert manifest.background == "white"
    totals = collections.Counter()
    for part in manifest.parts:
        totals.update(manifest.counts["images"][part])
    assert sum(totals.values()) == 2806
    assert totals["X"] == 94 and totals["Y"] == 27 and all(118 <= totals[str(n)] <= 127 for n in range(1, 23))
    splits = json.loads((tmp_path / "out" / "splits.json").read_text())
    by_cell = collections.defaultdict(set)
    for entry in splits["images"]:
        by_cell[entry["cell_id"]].add(entry["part"])
    assert len(by_cell) == 65 and all(len(p) == 1 for p in by_cell.values())
    images, _ = next(iter(make_dataset(tmp_path / "out", "fold0", batch_size=64, autotune=False)))
    corners = images.numpy()[:, [0, 0, -1, -1], [0, -1, 0, -1], 0]
    assert corners.min() > 200  # white padding
