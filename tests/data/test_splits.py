import collections

import pytest

from sras_keras.configs.convert import SplitConfig
from sras_keras.configs.records import DataSource, write_record
from sras_keras.core.errors import SrasError
from sras_keras.data.readers import SourceImage
from sras_keras.data.splits import assign_parts, duplicates_across_parts, parts_from_file, splits_record


def bioimlab_like(cells=119, males=45):
    """The BioImLab label distribution: 46 per cell, a Y in each male cell."""
    images = []
    for cell in range(cells):
        male = cell < males
        labels = [c for c in range(22) for _ in (0, 1)] + ([22, 23] if male else [22, 22])
        images += [SourceImage(f"{cell}/{i}.bmp", label, str(cell)) for i, label in enumerate(labels)]
    return images


IMAGES = bioimlab_like()


def test_bioimlab_like_counts():
    counts = collections.Counter(image.label for image in IMAGES)
    assert len(IMAGES) == 5474 and counts[0] == 238 and counts[22] == 193 and counts[23] == 45


def test_paper_split_sizes_and_stratification():
    parts = assign_parts(IMAGES, SplitConfig("paper", seed=3))
    counts = collections.Counter(parts)
    assert counts["train"] == 4379 and counts["test"] == 1095
    per_class = collections.Counter(image.label for image, part in zip(IMAGES, parts) if part == "test")
    assert all(47 <= per_class[c] <= 48 for c in range(22))  # 238 / 5 = 47.6
    assert per_class[22] in (38, 39) and per_class[23] == 9


def test_same_seed_same_split_other_seed_other_split():
    a = assign_parts(IMAGES, SplitConfig("paper", seed=1))
    assert a == assign_parts(IMAGES, SplitConfig("paper", seed=1))
    assert a != assign_parts(IMAGES, SplitConfig("paper", seed=2))


def test_holdout_groups_cells_and_spreads_males():
    parts = assign_parts(IMAGES, SplitConfig("holdout", seed=0))
    cell_parts = collections.defaultdict(set)
    for image, part in zip(IMAGES, parts):
        cell_parts[image.cell_id].add(part)
    assert all(len(p) == 1 for p in cell_parts.values())
    cells = collections.Counter(next(iter(p)) for p in cell_parts.values())
    assert cells == {"train": 84, "val": 11, "test": 24}  # per sex: round(0.2 n), round(0.1 n)
    males = collections.Counter(next(iter(cell_parts[str(c)])) for c in range(45))
    assert males["test"] == 9 and males["val"] == 4


def test_holdout_by_image_is_stratified():
    parts = assign_parts(IMAGES, SplitConfig("holdout", seed=0, group_by="image"))
    counts = collections.Counter(parts)
    assert abs(counts["test"] - 0.2 * 5474) <= 1 and abs(counts["val"] - 0.1 * 5474) <= 2


@pytest.mark.parametrize("group_by", ["image", "cell"])
def test_kfold(group_by):
    parts = assign_parts(IMAGES, SplitConfig("kfold", seed=0, group_by=group_by, folds=5))
    counts = collections.Counter(parts)
    assert set(counts) == {f"fold{k}" for k in range(5)}
    assert all(abs(n - 5474 / 5) < 60 for n in counts.values())
    ys = collections.Counter(part for image, part in zip(IMAGES, parts) if image.label == 23)
    assert all(ys[f"fold{k}"] >= 7 for k in range(5))
    if group_by == "cell":
        cell_parts = collections.defaultdict(set)
        for image, part in zip(IMAGES, parts):
            cell_parts[image.cell_id].add(part)
        assert all(len(p) == 1 for p in cell_parts.values())


def test_grouping_needs_cell_ids():
    images = [SourceImage(f"{i}.png", i % 24, "") for i in range(240)]
    with pytest.raises(SrasError, match="no cell id"):
        assign_parts(images, SplitConfig("kfold", group_by="cell"))
    with pytest.raises(SrasError, match="image-level"):
        assign_parts(images, SplitConfig("paper", group_by="cell"))


def test_duplicates_across_parts_are_found():
    images = [SourceImage("a.png", 0, "1"), SourceImage("b.png", 0, "2"), SourceImage("c.png", 1, "3")]
    found = duplicates_across_parts(images, ["m1", "m1", "m1"], ["train", "test", "train"])
    assert found == [["a.png", "b.png", "c.png"]]
    assert duplicates_across_parts(images, ["m1", "m1", "m2"], ["train", "train", "test"]) == []


def test_saved_split_is_reused(tmp_path):
    config = SplitConfig("holdout", seed=5)
    parts = assign_parts(IMAGES, config)
    source = DataSource(root="x", layout="bioimlab", label_coding="standard", cell_regex=None, checksum="c")
    write_record(tmp_path, splits_record(IMAGES, ["0" * 32] * len(IMAGES), parts, config, source))
    loaded_config, loaded = parts_from_file(tmp_path / "splits.json", IMAGES)
    assert loaded == parts and loaded_config == config.resolved()
    with pytest.raises(SrasError, match="no entry for source image"):
        parts_from_file(tmp_path / "splits.json", IMAGES + [SourceImage("new.bmp", 0, "x")])


@pytest.mark.parametrize(
    ("split", "message"),
    [
        (SplitConfig("paper", val_fraction=0.3), "--test-fraction apply to --split holdout, not paper"),
        (SplitConfig("kfold", test_fraction=0.1), "apply to --split holdout, not kfold"),
        (SplitConfig("holdout", folds=10), "--folds applies to --split kfold, not holdout"),
    ],
)
def test_an_option_the_split_would_ignore_is_refused(split, message):
    with pytest.raises(SrasError, match=message):
        assign_parts(IMAGES, split)
