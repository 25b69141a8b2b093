"""Bad-input sweep (issue #7): every damaged, odd or hostile input is a correct read or one clean SrasError naming
the file, never a traceback, a hang, a memory blow-up or a half-written output folder.

Hypothesis runs derandomised (the same examples on every machine) with a bounded number of examples per test.
"""

import io
import os
import resource
import shutil
import struct
import tempfile
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from sras_keras.cli import main
from sras_keras.core.errors import SrasError
from sras_keras.data.readers import MAX_IMAGE_PIXELS, decode_grayscale, display_path, read_image, scan_source
from tests.conftest import write_class_tree

SWEEP = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def sweep(examples: int):
    return settings(SWEEP, max_examples=examples)


FORMATS = {".png": "PNG", ".bmp": "BMP", ".tif": "TIFF"}
MAGIC = [b"", b"\x89PNG\r\n\x1a\n", b"BM", b"II*\x00", b"MM\x00*", b"\xff\xd8\xff", b"GIF89a"]


def encoded(array: np.ndarray, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt, **options)
    return buffer.getvalue()


def sample_image(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.zeros((40, 24), np.uint8)
    image[5:35, 8:16] = rng.integers(60, 256, (30, 8))
    return image


def assert_clean(error: SrasError, name: str) -> str:
    """One printable line that names the file."""
    message = str(error)
    message.encode("utf-8")  # printable: no lone surrogates
    assert "\n" not in message and name in message, message
    return message


def read_or_clean_error(path: Path):
    """(array, None) for a read, (None, message) for a clean error; anything else fails the test."""
    try:
        array, md5 = read_image(path)
    except SrasError as error:
        return None, assert_clean(error, display_path(path))
    assert array.ndim == 2 and array.dtype == np.uint8 and array.size > 0 and len(md5) == 32
    return array, None


# ---- readers -------------------------------------------------------------------------------------------------------


@sweep(200)
@given(extension=st.sampled_from(sorted(FORMATS)), fraction=st.floats(0, 1, exclude_max=True))
def test_truncated_files_are_a_clean_error_or_the_exact_image(extension, fraction):
    image = sample_image()
    data = encoded(image, FORMATS[extension])
    cut = int(fraction * len(data))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"chromosome{extension}"
        path.write_bytes(data[:cut])
        array, message = read_or_clean_error(path)
    if array is not None:  # a cut in trailing metadata can leave every pixel: then they must all be right
        np.testing.assert_array_equal(array, image)
    elif cut == 0:
        assert "empty file" in message
    else:
        assert "not a readable image" in message


@sweep(500)
@given(magic=st.sampled_from(MAGIC), body=st.binary(max_size=600), extension=st.sampled_from([".png", ".bmp", ".tif"]))
def test_random_bytes_with_image_extensions(magic, body, extension):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"noise{extension}"
        path.write_bytes(magic + body)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            read_or_clean_error(path)
    assert not caught, [str(w.message) for w in caught]  # no stray warning lines either


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int, rows: bytes = b"") -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(rows, 9))
        + _png_chunk(b"IEND", b"")
    )


def bmp_claiming(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 0, 0, 2835, 2835, 256, 0)
    palette = bytes(b for g in range(256) for b in (g, g, g, 0))
    return b"BM" + struct.pack("<IHHI", 14 + 40 + 1024 + 64, 0, 0, 14 + 40 + 1024) + info + palette + bytes(64)


@sweep(60)
@given(width=st.integers(1, 2**31 - 1), height=st.integers(1, 2**31 - 1), kind=st.sampled_from(["png", "bmp"]))
def test_huge_declared_dimensions_are_refused_before_allocation(width, height, kind):
    assume(width * height > MAX_IMAGE_PIXELS)
    data = png_claiming(width, height) if kind == "png" else bmp_claiming(width, height)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(SrasError, match=r"^huge\.\w+: image too large"):
            decode_grayscale(data, f"huge.{kind}")
    assert not caught, [str(w.message) for w in caught]  # Pillow's DecompressionBombWarning stays inside
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB: nothing was allocated


def test_a_real_decompression_bomb_is_refused():
    """A valid PNG of 10,000 x 10,000 zero pixels is 100 KB on disk and 100 MB decoded (Pillow only warns)."""
    data = png_claiming(10_000, 10_000, bytes(10_001) * 10_000)
    assert len(data) < 200_000
    with pytest.raises(SrasError, match="bomb.png: image too large"):
        decode_grayscale(data, "bomb.png")


@sweep(40)
@given(image=arrays(np.uint16, st.tuples(st.integers(1, 12), st.integers(1, 12))), fmt=st.sampled_from(["PNG", "TIFF"]))
def test_sixteen_bit_images_are_scaled_to_eight_bits(image, fmt):
    array = decode_grayscale(encoded(image, fmt), "wide")
    white = next(2**bits - 1 for bits in (10, 12, 14, 16) if image.max() <= 2**bits - 1)  # its sensor depth
    np.testing.assert_array_equal(array, np.round(image.astype(np.float64) * 255 / white).astype(np.uint8))


@sweep(40)
@given(
    grey=st.lists(st.integers(0, 255), min_size=1, max_size=256),
    indices=arrays(np.uint8, st.tuples(st.integers(1, 10), st.integers(1, 10))),
    fmt=st.sampled_from(["PNG", "BMP", "TIFF"]),
)
def test_grey_palette_images_read_through_their_palette(grey, indices, fmt):
    indices = indices % len(grey)
    image = Image.fromarray(indices, "P")
    image.putpalette([value for g in grey for value in (g, g, g)])
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    np.testing.assert_array_equal(decode_grayscale(buffer.getvalue(), "palette"), np.array(grey, np.uint8)[indices])


@sweep(40)
@given(
    image=arrays(np.uint8, st.tuples(st.integers(1, 8), st.integers(1, 8), st.just(3))),
    palette=st.booleans(),
    fmt=st.sampled_from(["PNG", "BMP", "TIFF"]),
)
def test_colour_images_are_a_clean_error(image, palette, fmt):
    assume(not np.all(image == image[..., :1]))
    picture = Image.fromarray(image, "RGB")
    if palette:
        picture = picture.quantize(256)
        assume(not np.all(np.asarray(picture.convert("RGB")) == np.asarray(picture.convert("RGB"))[..., :1]))
    buffer = io.BytesIO()
    picture.save(buffer, fmt)
    with pytest.raises(SrasError, match="^colour.png: colour image"):
        decode_grayscale(buffer.getvalue(), "colour.png")


@pytest.mark.parametrize("extension", [".png", ".bmp", ".tif"])
def test_zero_byte_files(tmp_path, extension):
    path = tmp_path / f"empty{extension}"
    path.touch()
    with pytest.raises(SrasError, match="empty file"):
        read_image(path)


def test_special_files_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(SrasError, match="pipe.png: not a regular file"):  # reading it would block for ever
        read_image(fifo)
    device = tmp_path / "zeros.png"
    device.symlink_to("/dev/zero")
    with pytest.raises(SrasError, match="zeros.png: not a regular file"):  # reading it would never end
        read_image(device)


# ---- odd names and links in a source tree --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def class_source(tmp_path_factory):
    return write_class_tree(tmp_path_factory.mktemp("odd") / "source", cells=1)


NAME_BYTES = st.binary(min_size=1, max_size=12).filter(
    lambda name: b"/" not in name and b"\x00" not in name and not name.startswith(b".")
)


@sweep(40)
@given(stem=NAME_BYTES)
def test_non_utf8_file_names_read_or_are_named_printably(class_source, stem):
    folder = os.fsencode(class_source / "7")
    path = os.path.join(folder, stem + b".png")
    assume(not os.path.exists(path))
    with open(path, "wb") as handle:
        handle.write(encoded(sample_image(), "PNG"))
    try:
        array, _ = read_image(os.fsdecode(path))  # the bytes of the name never matter to reading
        np.testing.assert_array_equal(array, sample_image())
        try:
            _, images = scan_source(class_source)
        except SrasError as error:
            message = assert_clean(error, display_path(os.fsdecode(path)))
            assert "not valid UTF-8" in message
            with pytest.raises(UnicodeDecodeError):
                stem.decode("utf-8")
        else:
            stem.decode("utf-8")  # only valid names are accepted, and then listed as they are
            assert f"7/{stem.decode()}.png" in {image.path for image in images}
    finally:
        os.remove(path)


def test_non_utf8_name_stops_convert_with_one_printable_line(class_source, tmp_path):
    bad = os.path.join(os.fsencode(class_source / "X"), b"\xff\xfe.png")
    with open(bad, "wb") as handle:
        handle.write(encoded(sample_image(), "PNG"))
    try:
        result = CliRunner().invoke(main, ["data", "convert", str(class_source), str(tmp_path / "out")])
    finally:
        os.remove(bad)
    assert result.exit_code == 1, (result.output, result.exc_info)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "X/\\xff\\xfe.png: file name is not valid UTF-8" in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", ["self_loop_file", "mutual_loop_folder", "link_to_ancestor", "link_to_root"])
def test_symlink_loops_are_skipped_or_named(tmp_path, case):
    root = write_class_tree(tmp_path / "source", cells=1)
    expected = len(scan_source(root)[1])
    if case == "self_loop_file":  # stat() fails with ELOOP
        (root / "3" / "loop.png").symlink_to("loop.png")
    elif case == "mutual_loop_folder":
        (root / "12" / "a.png").symlink_to("b.png")
        (root / "12" / "b.png").symlink_to("a.png")
    elif case == "link_to_ancestor":  # a folder inside a class folder: never descended
        (root / "5" / "up").symlink_to("..")
    else:  # a link to the source root inside a class folder: folders there are never walked into
        (root / "7" / "again").symlink_to(root)
    _, images = scan_source(root)  # listing never follows a link into a folder, so it cannot recurse
    looped = {"self_loop_file": {"3/loop.png"}, "mutual_loop_folder": {"12/a.png", "12/b.png"}}.get(case, set())
    assert len(images) == expected + len(looped)
    assert all("up/" not in image.path and "again/" not in image.path for image in images)
    for image in images:  # reading a looping link is a clean error naming it, every other image reads
        array, message = read_or_clean_error(root / image.path)
        assert (array is None) == (image.path in looped)
        if message:
            assert "Too many levels of symbolic links" in message


def test_symlink_loop_inside_a_convert_source(tmp_path):
    root = write_class_tree(tmp_path / "source", cells=1)
    (root / "3" / "loop.png").symlink_to("loop.png")
    result = CliRunner().invoke(main, ["data", "convert", str(root), str(tmp_path / "out")])
    assert result.exit_code == 1 and "3/loop.png: cannot read" in result.output, result.output
    assert not (tmp_path / "out").exists()


# ---- sras data convert: bad files leave no output ------------------------------------------------------------------


def _bad_content(kind: str, seed: int) -> tuple[str, bytes, str]:
    """(extension, bytes, expected phrase) of one bad file."""
    rng = np.random.default_rng(seed)
    good = encoded(sample_image(seed), "PNG")
    if kind == "truncated":
        return ".png", good[: int(rng.integers(1, len(good) - 20))], "not a readable image"
    if kind == "random":
        return str(rng.choice([".png", ".bmp", ".tif"])), rng.bytes(int(rng.integers(1, 400))), "not a readable image"
    if kind == "empty":
        return ".bmp", b"", "empty file"
    if kind == "huge":
        return ".png", png_claiming(20_000, 20_000), "image too large"
    if kind == "colour":
        colour = np.stack([sample_image(seed)] * 3, axis=-1)
        colour[10, 10] = (255, 0, 0)
        return ".png", encoded(colour, "PNG"), "colour image"
    if kind == "blank":
        return ".png", encoded(np.full((10, 10), 255, np.uint8), "PNG"), "no foreground"
    raise AssertionError(kind)


@sweep(30)
@given(
    kind=st.sampled_from(["truncated", "random", "empty", "huge", "colour", "blank"]),
    folder=st.sampled_from(["1", "9", "22", "X", "Y"]),
    seed=st.integers(0, 2**16),
    out_exists=st.booleans(),
)
def test_convert_stops_on_a_bad_file_with_nothing_written(class_source, kind, folder, seed, out_exists):
    extension, data, phrase = _bad_content(kind, seed)
    bad = class_source / folder / f"bad_1_x_1000{extension}"
    bad.write_bytes(data)
    out = Path(tempfile.mkdtemp()) / "out"
    if out_exists:
        out.mkdir()
    try:
        result = CliRunner().invoke(
            main, ["data", "convert", str(class_source), str(out), "--image-size", "24", "--cell-regex", "_([^_]+)$"]
        )
    finally:
        bad.unlink()
    try:
        assert result.exit_code == 1, (result.output, result.exc_info)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output
        assert f"{folder}/bad_1_x_1000{extension}: {phrase}" in lines[0]
        assert not out.exists() or not any(out.iterdir())  # no shard, no splits.json, no manifest.json
    finally:
        shutil.rmtree(out.parent)


# ---- a corrupted shard ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    from sras_keras.configs.convert import ConvertConfig, SplitConfig
    from sras_keras.data.convert import convert
    from sras_keras.data.synthetic import write_synthetic_dataset

    root = tmp_path_factory.mktemp("shards")
    write_synthetic_dataset(root / "source", n_cells=6, seed=5, male_fraction=0.5)
    config = ConvertConfig(split=SplitConfig("holdout", seed=0), image_size=24, rotations=2)
    convert(root / "source", root / "data", config, log=lambda line: None)
    return root / "data"


def flipped_copy(data: Path, destination: Path, shard: str, offset: float = 0.5) -> Path:
    """A copy of the dataset with one bit of ``shard`` flipped ``offset`` of the way in."""
    shutil.copytree(data, destination)
    path = destination / shard
    content = bytearray(path.read_bytes())
    content[int(offset * len(content))] ^= 0x01
    path.write_bytes(bytes(content))
    return destination


def test_verify_names_a_shard_with_one_flipped_bit(converted, tmp_path):
    assert CliRunner().invoke(main, ["data", "verify", str(converted)]).exit_code == 0
    data = flipped_copy(converted, tmp_path / "data", "train-00000-of-00001.tfrecord")
    result = CliRunner().invoke(main, ["data", "verify", str(data)])
    assert result.exit_code == 1, result.output
    shard = str(data / "train-00000-of-00001.tfrecord")
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert f"error: {shard}: content differs from manifest.json (sha256 mismatch)" in errors
    assert any(line.startswith(f"error: {shard}: corrupt record after") for line in errors)  # the record CRC
    assert all(shard in line for line in errors)  # and no other shard is blamed


@pytest.mark.parametrize(
    "shard",
    [
        "train-00000-of-00001.tfrecord",
        "train-rot-00000-of-00001.tfrecord",
        "val-00000-of-00001.tfrecord",
        "test-00000-of-00001.tfrecord",
    ],
)
def test_train_stops_before_training_on_a_corrupted_shard(converted, tmp_path, shard):
    data = flipped_copy(converted, tmp_path / "data", shard, offset=0.9)
    run = tmp_path / "run"
    result = CliRunner().invoke(
        main,
        [
            "train",
            str(data),
            str(run),
            "--backbone",
            "resnet_small",
            "--weights",
            "none",
            "--epochs",
            "1",
            "--batch-size",
            "8",
        ],
    )
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [
        f"error: {data / shard}: shard is corrupted (its sha256 differs from manifest.json); run "
        f"`sras data verify {data}` and convert the dataset again"
    ]
    assert not run.exists()  # stopped before the run folder was made


def test_shard_check_reads_only_the_shards_asked_for(converted, tmp_path):
    from sras_keras.data.inspect import check_shards

    check_shards(converted)
    data = flipped_copy(converted, tmp_path / "data", "train-rot-00000-of-00001.tfrecord")
    check_shards(data, [data / "train-00000-of-00001.tfrecord", "test-00000-of-00001.tfrecord"])
    with pytest.raises(SrasError, match="train-rot-00000-of-00001.tfrecord: shard is corrupted"):
        check_shards(data)
    (data / "test-00000-of-00001.tfrecord").unlink()
    with pytest.raises(SrasError, match="test-00000-of-00001.tfrecord: shard missing"):
        check_shards(data, ["test-00000-of-00001.tfrecord"])
