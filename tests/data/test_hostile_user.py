"""What a hostile new user found on the data side: each is one clear error line (or the right result), never a
traceback, a misleading message, a silently wrong dataset or a file left behind."""

import io
import json
import os
import re
import shutil
import struct
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner
from PIL import Image

from sras_keras.cli import main
from sras_keras.configs.convert import ConvertConfig, SplitConfig
from sras_keras.core.errors import SrasError
from sras_keras.core.io import display_path, exclusive, sha256_of, write_json_atomic
from sras_keras.data import convert as convert_module
from sras_keras.data.convert import convert
from sras_keras.data.inspect import verify
from sras_keras.data.labels import Y_INDEX
from sras_keras.data.pipeline import load_manifest, make_dataset, record_decoder
from sras_keras.data.readers import SourceImage, decode_grayscale, read_image
from sras_keras.data.splits import assign_parts
from sras_keras.data.synthetic import write_synthetic_dataset
from sras_keras.data.tfrecord import RecordMeta, serialize_example, write_shard

CONFIG = ConvertConfig(split=SplitConfig("holdout", seed=0), image_size=24)
QUIET = {"log": lambda line: None}


def errors(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    write_synthetic_dataset(root / "source", n_cells=6, seed=5, male_fraction=0.5)
    return root / "source"


@pytest.fixture(scope="module")
def converted(source) -> Path:
    convert(source, source.parent / "data", CONFIG, **QUIET)
    return source.parent / "data"


def copy_of(data: Path, destination: Path) -> Path:
    shutil.copytree(data, destination)
    return destination


# 1. a corrupted shard --------------------------------------------------------------------------------------------


def test_reading_a_corrupted_shard_is_one_error_before_any_record(converted, tmp_path):
    """`sras predict --part` and `sras evaluate` read through make_dataset: it checks the shards' sha256 first."""
    data = copy_of(converted, tmp_path / "data")
    shard = data / "test-00000-of-00001.tfrecord"
    content = bytearray(shard.read_bytes())
    content[len(content) // 2] ^= 0x01
    shard.write_bytes(bytes(content))
    make_dataset(data, "train", rotated_copies=False, synthetic=False)  # its own shards are intact
    with pytest.raises(SrasError, match=r"test-00000-of-00001.tfrecord: shard is corrupted .*sras data verify"):
        make_dataset(data, "test", rotated_copies=False, synthetic=False)


# 2. tracebacks turned into one error line ------------------------------------------------------------------------


def test_an_unwritable_parent_folder_is_one_error_line(source, tmp_path):
    unwritable = Path("/sys/sras-hostile-user-test")  # sysfs: no one may create a folder there, root included
    try:
        unwritable.mkdir()
    except OSError:
        pass
    else:
        unwritable.rmdir()
        pytest.skip("/sys is writable here")
    for command in (["data", "convert", str(source), str(unwritable)], ["data", "synth", str(unwritable)]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 1, result.output
        (line,) = errors(result)
        assert line.startswith("error: /sys") and "cannot write there" in line, line


def test_every_command_that_writes_a_folder_refuses_an_unwritable_one_in_one_line(tiny_run, tmp_path):
    """predict, export, models package, sr evaluate and sr apply: OUT under a file (no one may make a folder there,
    root included) is one error line naming it, and nothing is written."""
    from sras_keras.configs.sr import SRTrainConfig
    from sras_keras.training.sr import train_sr

    sr_run = tmp_path / "sr"
    tiny_sr = SRTrainConfig(preset="tiny", patch_size=16, batch_size=4, epochs=1, steps_per_epoch=2, val_batches=1)
    train_sr(tiny_run / "data", sr_run, tiny_sr, log=lambda line: None)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "out"
    run, data, cell = tiny_run / "run", tiny_run / "data", next((tiny_run / "source").iterdir())
    commands = [
        ["predict", "--model", str(run), str(cell), "--out", str(out)],
        ["export", str(run), "--out", str(out)],
        ["models", "package", str(run), str(out), "--name", "mine", "--band", "Q", "--title", "t"],
        ["sr", "evaluate", str(sr_run / "model.keras"), str(data), "--out", str(out), "--max-images", "2"],
        ["sr", "apply", str(sr_run / "model.keras"), str(tiny_run / "source"), str(out)],
    ]
    for command in commands:
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 1, (command, result.output)
        (line,) = errors(result)
        assert line.startswith(f"error: {blocker}") and "cannot write there" in line, (command, line)
    assert blocker.read_text() == "not a folder" and sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "sr"]


def test_an_unwritable_out_folder_is_one_error_line_and_nothing_is_left(source, tmp_path, monkeypatch):
    """OUT exists but refuses writes (a read-only folder; simulated, as root may write anywhere)."""
    out = tmp_path / "out"
    out.mkdir()
    write_text = Path.write_text

    def refuse(path, *args, **kwargs):
        if path.parent == out:
            raise PermissionError(13, "Permission denied", str(path))
        return write_text(path, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", refuse)
    with pytest.raises(SrasError, match=r"/out/\.sras-convert\.json: cannot write there \(Permission denied\)"):
        convert(source, out, CONFIG, **QUIET)
    assert list(out.iterdir()) == []


def test_an_atomic_write_that_cannot_be_renamed_is_an_error_naming_the_file(tmp_path, monkeypatch):
    def refuse(source, target):
        raise OSError(30, "Read-only file system", str(source), None, str(target))

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(SrasError, match=r"record\.json: cannot write there \(Read-only file system\)"):
        write_json_atomic(tmp_path / "record.json", {"a": 1})
    assert list(tmp_path.iterdir()) == []  # the temporary file is gone too


def test_convert_into_the_current_folder(source, tmp_path, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    result = CliRunner().invoke(main, ["data", "convert", str(source), ".", "--image-size", "24"])
    assert result.exit_code == 0, result.output
    assert (here / "manifest.json").exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["here"]  # and no lock file beside it


def test_synth_into_the_current_folder_is_one_error_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["data", "synth", ".", "--cells", "1"])
    assert result.exit_code == 1, result.output
    assert errors(result) == ["error: .: is the current folder; name a new folder, e.g. karyotypes"]
    assert list(tmp_path.iterdir()) == []


def test_an_invalid_cell_regex_is_refused_whatever_the_layout(source, converted):
    expected = "error: --cell-regex '(' is not a valid regular expression"
    for command in (
        ["data", "convert", str(source), str(source.parent / "never"), "--cell-regex", "("],  # BioImLab ignored it
        ["data", "inspect", str(source), "--cell-regex", "("],
        ["data", "inspect", str(converted), "--cell-regex", "("],
    ):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 1, result.output
        (line,) = errors(result)
        assert line.startswith(expected), line
    assert not (source.parent / "never").exists()


def png_bytes(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((height, width), np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_record_whose_png_is_larger_than_it_says_is_refused_before_decoding(converted, tmp_path):
    """A hostile shard (its manifest rewritten to match): a 3000 x 3000 PNG where the record says 10 x 10."""
    data = copy_of(converted, tmp_path / "data")
    meta = RecordMeta(1, "2", "1", "1/1 2a.bmp", "0" * 32, "test", -1, 0.0, 10, 10)
    record = serialize_example(png_bytes(3000, 3000), 10, 10, meta)
    shard = data / "test-00000-of-00001.tfrecord"
    write_shard(shard, [record])
    manifest = json.loads((data / "manifest.json").read_text())
    for entry in manifest["shards"]:
        if entry["file"] == shard.name:
            entry.update(records=1, bytes=shard.stat().st_size, sha256=sha256_of(shard))
    (data / "manifest.json").write_text(json.dumps(manifest))

    claim = "a record's image claims 3000 x 3000 pixels, more than this dataset's 24 x 24 (a damaged or hostile shard)"
    with pytest.raises(SrasError, match=re.escape(f"{shard}: {claim}; convert the dataset again")):
        make_dataset(data, "test", rotated_copies=False, synthetic=False)
    assert verify(data) == [f"{shard}: {claim}"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="not a PNG of at most 24 x 24 pixels"):
        record_decoder(load_manifest(data))(record)  # and decoding refuses it too, should a reader skip the check


# 3. splits.json is checked by verify -----------------------------------------------------------------------------


def test_verify_names_an_edited_or_deleted_splits_json(converted, tmp_path):
    data = copy_of(converted, tmp_path / "data")
    assert load_manifest(data).splits_sha256
    assert verify(data) == []
    splits = json.loads((data / "splits.json").read_text())
    splits["images"][0]["part"] = "train" if splits["images"][0]["part"] != "train" else "test"
    (data / "splits.json").write_text(json.dumps(splits, indent=2))
    edited = (
        f"error: {data / 'splits.json'}: content differs from manifest.json (sha256 mismatch), so it no longer says "
        "which part each image is in; convert the dataset again"
    )
    result = CliRunner().invoke(main, ["data", "verify", str(data)])
    assert result.exit_code == 1 and errors(result) == [edited], result.output
    # and a reader that picks images by it (SR training takes its training cells' images) refuses it
    result = CliRunner().invoke(main, ["sr", "train", str(data), str(tmp_path / "sr"), "--preset", "tiny"])
    assert result.exit_code == 1 and errors(result) == [edited], result.output
    assert not (tmp_path / "sr").exists()
    (data / "splits.json").unlink()
    assert verify(data) == [
        f"{data / 'splits.json'}: missing (every converted dataset has one); convert the dataset again"
    ]


def test_a_manifest_from_before_the_splits_checksum_still_reads(converted, tmp_path):
    data = copy_of(converted, tmp_path / "data")
    manifest = json.loads((data / "manifest.json").read_text())
    del manifest["splits_sha256"]
    (data / "manifest.json").write_text(json.dumps(manifest))
    assert load_manifest(data).splits_sha256 is None
    assert verify(data) == []


# 4. OUT and SOURCE apart -----------------------------------------------------------------------------------------


def test_out_inside_source_and_source_inside_out_are_refused(tmp_path):
    source = write_synthetic_dataset(tmp_path / "outer" / "source", n_cells=3)["out_dir"]
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(SrasError, match=r"/source/converted: is inside the source folder .*; choose one outside"):
        convert(source, Path(source) / "converted", CONFIG, **QUIET)
    with pytest.raises(SrasError, match=r"/outer: holds the source folder .*; choose an output folder outside it"):
        convert(source, tmp_path / "outer", CONFIG, **QUIET)
    with pytest.raises(SrasError, match="is inside the source folder"):
        convert(source, source, CONFIG, **QUIET)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # not even a lock file


# 5. advice that works --------------------------------------------------------------------------------------------


def test_a_source_changed_mid_conversion_gives_advice_that_works(tmp_path, monkeypatch):
    source = Path(write_synthetic_dataset(tmp_path / "source", n_cells=3, seed=1)["out_dir"])
    victim = sorted(source.glob("1/*.bmp"))[0]
    plan_shards = convert_module.plan_shards

    def edit_then_plan(*args, **kwargs):  # after the images were checked, before the shards are written
        image = np.asarray(Image.open(victim)).copy()
        image[0, 0] = 255 - image[0, 0]
        Image.fromarray(image).save(victim)
        return plan_shards(*args, **kwargs)

    monkeypatch.setattr(convert_module, "plan_shards", edit_then_plan)
    out = tmp_path / "out"
    with pytest.raises(
        SrasError, match=r"changed while being converted, .*; delete that folder \(or choose a new one\)"
    ):
        convert(source, out, CONFIG, **QUIET)
    monkeypatch.undo()
    with pytest.raises(SrasError, match="already holds a different dataset"):  # why "run it again" was wrong
        convert(source, out, CONFIG, **QUIET)
    shutil.rmtree(out)  # the advice
    assert convert(source, out, CONFIG, **QUIET).parts == ["train", "val", "test"]


# 7. lock files ---------------------------------------------------------------------------------------------------


def test_the_lock_file_is_removed_and_jobs_still_take_turns(tmp_path):
    out = tmp_path / "out"
    inside, events, first_in = [], [], threading.Event()

    def job(name: str):
        with exclusive(out):
            inside.append(name)
            events.append(len(inside))
            first_in.set()
            time.sleep(0.2)
            inside.remove(name)

    first = threading.Thread(target=job, args=("a",))
    first.start()
    first_in.wait(10)
    waiting = [threading.Thread(target=job, args=(name,)) for name in "bcd"]  # all wait on a's lock file
    for thread in waiting:
        thread.start()
    for thread in [first, *waiting]:
        thread.join(30)
    assert events == [1, 1, 1, 1]  # never two at once, though each holder removed the file others waited on
    assert list(tmp_path.iterdir()) == []


def test_convert_leaves_no_lock_file(source, tmp_path):
    convert(source, tmp_path / "out", CONFIG, **QUIET)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]


# 8. messages that quote Pillow's internals or raw control characters ---------------------------------------------


def png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_messages_name_the_file_not_pillows_buffer_or_limit():
    with pytest.raises(SrasError) as error:
        decode_grayscale(b"\x00not an image at all", "junk.png")
    assert str(error.value) == "junk.png: not a readable image (unknown or damaged format)"
    with pytest.raises(SrasError) as error:
        decode_grayscale(png_claiming(20_000, 20_000), "bomb.png")  # past Pillow's own limit: it raises first
    assert str(error.value) == "bomb.png: image too large (more than 50,000,000 pixels are not accepted)"


def test_control_characters_in_file_names_are_escaped(tmp_path):
    name = "evil\n\x1b[2Jname\u202e.png"
    assert display_path(name) == "evil\\n\\x1b[2Jname\\u202e.png"
    (tmp_path / name).write_bytes(b"not an image")
    with pytest.raises(SrasError) as error:
        read_image(tmp_path / name)
    message = str(error.value)
    assert message.isprintable() and "evil\\n\\x1b[2Jname\\u202e.png: not a readable image" in message


# 9. 16-bit images by their real range ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_a_twelve_bit_image_in_a_sixteen_bit_file_keeps_its_contrast(fmt):
    image = np.array([[0, 1024, 2048], [3072, 4000, 4095]], np.uint16)  # a 12-bit camera's values
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, fmt)
    array = decode_grayscale(buffer.getvalue(), f"twelve.{fmt.lower()}")
    np.testing.assert_array_equal(
        array, np.round(image.astype(np.float64) * 255 / 4095).astype(np.uint8)
    )  # not / 65535: near black


# 10. the honest split by default ---------------------------------------------------------------------------------


def test_convert_defaults_to_a_holdout_split_by_cell_and_paper_is_one_flag_away(source, tmp_path):
    assert ConvertConfig().split.scheme == "holdout"
    result = CliRunner().invoke(main, ["data", "convert", str(source), str(tmp_path / "honest"), "--image-size", "24"])
    assert result.exit_code == 0, result.output
    split = load_manifest(tmp_path / "honest").config.split
    assert (split.scheme, split.group_by) == ("holdout", "cell")
    command = ["data", "convert", str(source), str(tmp_path / "paper"), "--image-size", "24", "--split", "paper"]
    assert CliRunner().invoke(main, command).exit_code == 0
    assert load_manifest(tmp_path / "paper").parts == ["train", "test"]


def test_a_holdout_of_four_cells_leaves_no_part_empty():
    """`sras data synth --cells 4` makes 2 male and 2 female cells: too few per sex to spare one, so the parts
    were train only, without a word."""
    images = [
        SourceImage(f"{cell}/{label}.bmp", label, str(cell))
        for cell in range(1, 5)
        for label in range(Y_INDEX + (cell <= 2))  # cells 1 and 2 have a Y
    ]
    parts = assign_parts(images, SplitConfig("holdout"))
    assert {part: parts.count(part) > 0 for part in ("train", "val", "test")} == {
        "train": True,
        "val": True,
        "test": True,
    }
    assert len({(image.cell_id, part) for image, part in zip(images, parts)}) == 4  # still grouped by cell
