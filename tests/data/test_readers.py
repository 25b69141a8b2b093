import numpy as np
import pytest
from PIL import Image

from sras_keras.core.errors import SrasError
from sras_keras.data.labels import CLASS_NAMES, X_INDEX, Y_INDEX, parse_label
from sras_keras.data.readers import read_image, scan_source


def test_label_codings():
    assert parse_label("1") == 0 and parse_label("22") == 21
    assert parse_label("23") == X_INDEX and parse_label("x") == X_INDEX
    assert parse_label("24") == Y_INDEX and parse_label("Y") == Y_INDEX
    assert parse_label("0", "sras") == Y_INDEX and parse_label("23", "sras") == X_INDEX
    for bad, coding in [("0", "standard"), ("24", "sras"), ("25", "standard"), ("Z", "standard")]:
        with pytest.raises(SrasError):
            parse_label(bad, coding)


def test_bioimlab_layout_detected_with_cells_and_sex_chromosomes(bioimlab_tree):
    layout, images = scan_source(bioimlab_tree)
    assert layout == "bioimlab"
    assert len(images) == 4 * 46
    assert {image.cell_id for image in images} == {"1", "2", "3", "4"}
    male = [image for image in images if image.cell_id == "1"]
    assert sum(image.label == Y_INDEX for image in male) == 1
    assert sum(image.label == X_INDEX for image in male) == 1
    female = [image for image in images if image.cell_id == "2"]
    assert sum(image.label == X_INDEX for image in female) == 2


def test_class_folders_with_cell_regex(class_tree):
    layout, images = scan_source(class_tree, cell_regex=r"_([^_]+)$")
    assert layout == "class_folders"
    assert {image.cell_id for image in images} == {"1000", "1001", "1002"}
    assert {image.class_name for image in images} == set(CLASS_NAMES)
    layout, images = scan_source(class_tree)
    assert {image.cell_id for image in images} == {""}


def test_sras_coding_reads_zero_as_y(tmp_path):
    from tests.conftest import write_class_tree

    names = [str(n) for n in range(1, 23)] + ["23", "0"]
    root = write_class_tree(tmp_path / "s", cells=1, names=names)
    _, images = scan_source(root, label_coding="sras")
    assert {image.class_name for image in images if image.path.startswith("0/")} == {"Y"}
    with pytest.raises(SrasError, match="unknown label folder"):
        scan_source(root, label_coding="standard")


def test_unknown_label_folder_is_named(class_tree):
    (class_tree / "chr25").mkdir()
    with pytest.raises(SrasError, match="chr25.*unknown label folder"):
        scan_source(class_tree)


def test_empty_class_is_reported(class_tree):
    for file in (class_tree / "Y").iterdir():
        file.unlink()
    with pytest.raises(SrasError, match="no images of class Y"):
        scan_source(class_tree)


def test_non_image_file_is_named(bioimlab_tree):
    (bioimlab_tree / "2" / "notes.txt").write_text("hello")
    with pytest.raises(SrasError, match="notes.txt: not an image file"):
        scan_source(bioimlab_tree)


def test_hidden_files_are_ignored(bioimlab_tree):
    (bioimlab_tree / "2" / ".DS_Store").write_bytes(b"\0\1")
    assert len(scan_source(bioimlab_tree)[1]) == 4 * 46


def test_missing_source():
    with pytest.raises(SrasError, match="does not exist"):
        scan_source("/nonexistent/source")


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"", "empty file"),
        (b"BM\x00\x01garbage", "not a readable image"),
        (b"\x89PNG\r\n\x1a\nxx", "not a readable image"),
    ],
)
def test_unreadable_images_are_named(tmp_path, content, problem):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(SrasError, match=f"bad.png: {problem}"):
        read_image(path)


def test_truncated_image(tmp_path):
    path = tmp_path / "cut.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(SrasError, match="cut.png"):
        read_image(path)


def test_rgb_with_equal_channels_is_grayscale(tmp_path):
    gray = np.arange(60, dtype=np.uint8).reshape(6, 10)
    Image.fromarray(np.stack([gray] * 3, axis=-1)).save(tmp_path / "rgb.bmp")
    array, md5 = read_image(tmp_path / "rgb.bmp")
    np.testing.assert_array_equal(array, gray)
    assert len(md5) == 32


def test_colour_image_is_rejected(tmp_path):
    colour = np.zeros((6, 10, 3), dtype=np.uint8)
    colour[..., 0] = 200
    Image.fromarray(colour).save(tmp_path / "colour.png")
    with pytest.raises(SrasError, match="colour.png: colour image"):
        read_image(tmp_path / "colour.png")


def test_sixteen_bit_and_palette_images(tmp_path):
    wide = (np.arange(100, dtype=np.uint16).reshape(10, 10) * 600).astype(np.uint16)
    Image.fromarray(wide).save(tmp_path / "wide.png")
    array, _ = read_image(tmp_path / "wide.png")
    assert array.dtype == np.uint8 and array.max() == round(99 * 600 * 255 / 65535)
    palette = Image.fromarray(np.arange(100, dtype=np.uint8).reshape(10, 10)).convert("P")
    palette.save(tmp_path / "palette.png")
    array, _ = read_image(tmp_path / "palette.png")
    assert array.shape == (10, 10)
