"""Synthetic Q-band karyotypes: cell composition, BioImLab layout, image look, determinism, safe writing."""

import re
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from sras_keras.core.errors import SrasError
from sras_keras.data.labels import CLASS_NAMES, X_INDEX, Y_INDEX
from sras_keras.data.synthetic import (
    CLASS_GEOMETRY,
    generate_cell,
    render_chromosome,
    write_synthetic_dataset,
)

BIOIMLAB_NAME = re.compile(r"^(\d+) (\d+)([ab]?)\.bmp$")
AUTOSOMES = {c: 2 for c in range(X_INDEX)}


def _read_tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic") / "set"
    return out, write_synthetic_dataset(out, n_cells=4, seed=3, male_fraction=0.5)


def test_class_geometry_covers_every_class():
    assert len(CLASS_GEOMETRY) == len(CLASS_NAMES)
    assert all(1.0 < length < 9.0 and 0.1 < ci <= 0.5 for length, ci in CLASS_GEOMETRY)


@pytest.mark.parametrize(
    "sex, sex_chromosomes",
    [("female", {X_INDEX: 2}), ("male", {X_INDEX: 1, Y_INDEX: 1})],
)
def test_cell_has_46_chromosomes_of_the_right_classes(sex, sex_chromosomes):
    cell = generate_cell(np.random.default_rng(0), sex)
    assert len(cell) == 46
    assert Counter(c for c, _, _ in cell) == Counter({**AUTOSOMES, **sex_chromosomes})
    assert {h for c, h, _ in cell if c < X_INDEX} == {"a", "b"}
    assert {h for c, h, _ in cell if c >= X_INDEX} == ({"a", "b"} if sex == "female" else {""})


def test_bad_arguments_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    with pytest.raises(SrasError, match="sex"):
        generate_cell(rng, "XY?")
    with pytest.raises(SrasError, match="class index 24"):
        render_chromosome(24, rng)
    with pytest.raises(SrasError, match="brightness"):
        render_chromosome(0, rng, brightness=0)
    with pytest.raises(SrasError, match="n_cells"):
        write_synthetic_dataset(tmp_path / "none", n_cells=0)


def test_images_are_bright_chromosomes_on_black():
    rng = np.random.default_rng(1)
    for class_index in range(len(CLASS_NAMES)):
        image = render_chromosome(class_index, rng)
        assert image.dtype == np.uint8 and image.ndim == 2
        assert 13 <= max(image.shape) <= 200
        border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
        assert np.median(border) < 10
        assert image.max() > 60
        assert (image > 30).mean() > 0.2  # a tight crop: the chromosome fills much of it


def test_longer_classes_render_longer_on_average():
    rng = np.random.default_rng(2)

    def mean_length(class_index):
        return np.mean([max(render_chromosome(class_index, rng).shape) for _ in range(12)])

    chr1, chr7, chr13, chr21 = (mean_length(c) for c in (0, 6, 12, 20))
    assert chr1 > chr7 > chr13 > chr21
    assert 70 <= chr1 <= 130


def test_crops_stand_near_upright_as_in_a_karyogram():
    rng = np.random.default_rng(4)
    # chromosomes 1-12 are several times longer than wide, so a crop's shape shows how it stands
    upright = [np.greater(*render_chromosome(c, rng).shape) for c in range(12) for _ in range(4)]
    assert np.mean(upright) > 0.9


def test_dataset_follows_the_bioimlab_layout(dataset):
    out, summary = dataset
    cell_dirs = sorted(out.iterdir(), key=lambda p: int(p.name))
    assert [p.name for p in cell_dirs] == ["1", "2", "3", "4"]
    for cell_dir in cell_dirs:
        names = [p.name for p in cell_dir.iterdir()]
        assert len(names) == 46
        matches = [BIOIMLAB_NAME.match(name) for name in names]
        assert all(matches), names
        assert {m[1] for m in matches} == {cell_dir.name}
        labels = {(int(m[2]), m[3]) for m in matches}
        if summary["sexes"][int(cell_dir.name)] == "male":
            assert {(23, ""), (24, "")} <= labels and (23, "a") not in labels
        else:
            assert {(23, "a"), (23, "b")} <= labels and not any(c == 24 for c, _ in labels)
        with Image.open(cell_dir / f"{cell_dir.name} 1a.bmp") as image:
            assert image.format == "BMP" and image.mode == "L"


def test_summary_counts_what_was_written(dataset):
    out, summary = dataset
    assert summary["n_cells"] == 4
    assert summary["n_images"] == 4 * 46 == len(list(out.rglob("*.bmp")))
    assert sorted(summary["sexes"].values()) == ["female", "female", "male", "male"]
    assert summary["class_counts"]["1"] == 8
    assert summary["class_counts"]["X"] == 6 and summary["class_counts"]["Y"] == 2


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, dataset):
    out, _ = dataset
    again = tmp_path / "again"
    other = tmp_path / "other"
    write_synthetic_dataset(again, n_cells=4, seed=3, male_fraction=0.5)
    write_synthetic_dataset(other, n_cells=4, seed=4, male_fraction=0.5)
    assert _read_tree(again) == _read_tree(out)
    assert _read_tree(other) != _read_tree(out)


def test_non_empty_out_dir_is_refused_and_left_alone(tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(SrasError, match="taken"):
        write_synthetic_dataset(out, n_cells=1)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_writes_into_an_existing_empty_folder_and_leaves_no_staging_behind(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    write_synthetic_dataset(out, n_cells=1)
    assert [p.name for p in tmp_path.iterdir()] == ["empty"]
    assert len(list((out / "1").iterdir())) == 46


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    def broken_cell(rng, sex):
        raise RuntimeError("renderer broke")

    monkeypatch.setattr("sras_keras.data.synthetic.generate_cell", broken_cell)
    with pytest.raises(RuntimeError):
        write_synthetic_dataset(tmp_path / "set", n_cells=2)
    assert list(tmp_path.iterdir()) == []
