"""Find and read the chromosome images of a source tree, whatever its layout.

Two layouts are understood and told apart automatically:
- ``bioimlab``: ``<cell>/<cell> <class><homolog>.bmp`` (the BioImLab Q-band set; class 23 = X, 24 = Y);
- ``class_folders``: ``<label>/<image>`` with labels 1..22, X, Y (or 23/24, or SRAS-net's coding with
  ``0`` = Y via ``label_coding="sras"``); the cell id comes from the file name through ``cell_regex``.

Every problem (unreadable file, unknown label folder, colour image, empty class) raises ``SrasError`` naming
the file, before anything is written anywhere.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import re
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from sras_keras.configs.convert import LAYOUTS
from sras_keras.core.errors import SrasError
from sras_keras.core.io import display_path
from sras_keras.data.labels import CLASS_NAMES, NUM_CLASSES, parse_label

IMAGE_EXTENSIONS = (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg")
_BIOIMLAB_NAME = re.compile(r"^(\d+) (\d+)([ab]?)\.bmp$", re.IGNORECASE)
# Files the OS or editors leave behind, never data.
_IGNORED_NAMES = {"thumbs.db", "desktop.ini"}
# Chromosome crops are a few hundred pixels a side; anything beyond these is a damaged header or a decompression
# bomb, refused before its pixels are allocated (Pillow's own guard only warns below 179 megapixels).
MAX_IMAGE_PIXELS = 50_000_000
MAX_FILE_BYTES = 256 << 20
SENSOR_BITS = (10, 12, 14, 16)  # the depths cameras store in 16-bit files
_BUFFER = re.compile(r"<_io\.BytesIO object at 0x[0-9a-fA-F]+>")  # how Pillow names the bytes it was given


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _checked_name(path: Path) -> Path:
    """Names go into records, CSV and JSON as UTF-8 text: a name that is not is refused, not mangled."""
    if not _is_utf8(path.name):
        raise SrasError(f"{display_path(path)}: file name is not valid UTF-8; rename it")
    return path


@dataclasses.dataclass(frozen=True)
class SourceImage:
    """One chromosome image of a source tree, before it is read."""

    path: str  # relative to the source root, '/'-separated
    label: int  # class index 0..23
    cell_id: str  # '' when the layout carries no cell id

    @property
    def class_name(self) -> str:
        return CLASS_NAMES[self.label]


def _is_ignored(name: str) -> bool:
    return name.startswith(".") or name.lower() in _IGNORED_NAMES


def _listing(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError as error:
        raise SrasError(f"{display_path(folder)}: cannot list ({error.strerror or error})") from None


def _subfolders(root: Path) -> list[Path]:
    # A symlink loop is not a folder (is_dir is False on ELOOP), so it is listed as a file and refused by name;
    # only two levels are ever walked, so a link back to an ancestor cannot recurse.
    return sorted(
        (_checked_name(p) for p in _listing(root) if p.is_dir() and not _is_ignored(p.name)), key=lambda p: p.name
    )


def _files(folder: Path) -> list[Path]:
    return sorted(
        (_checked_name(p) for p in _listing(folder) if not p.is_dir() and not _is_ignored(p.name)), key=lambda p: p.name
    )


def detect_layout(root: Path) -> str:
    """'bioimlab' when the sub-folders' files are named '<folder> <class>[ab].bmp', else 'class_folders'."""
    for folder in _subfolders(root):
        for file in _files(folder):
            if file.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            match = _BIOIMLAB_NAME.match(file.name)
            return "bioimlab" if match and match.group(1) == folder.name else "class_folders"
    raise SrasError(
        f"{display_path(root)}: no image files found in its sub-folders (expected a folder per cell or per class)"
    )


def _check_image_file(file: Path) -> None:
    if file.suffix.lower() not in IMAGE_EXTENSIONS:
        raise SrasError(f"{display_path(file)}: not an image file (supported: {', '.join(IMAGE_EXTENSIONS)})")


def _scan_bioimlab(root: Path) -> list[SourceImage]:
    images = []
    for folder in _subfolders(root):
        for file in _files(folder):
            _check_image_file(file)
            match = _BIOIMLAB_NAME.match(file.name)
            if not match or match.group(1) != folder.name:
                raise SrasError(
                    f"{display_path(file)}: name does not follow the BioImLab layout '<cell>/<cell> <class><a|b>.bmp'"
                )
            label = parse_label(match.group(2), "standard")
            images.append(SourceImage(f"{folder.name}/{file.name}", label, folder.name))
    return images


def cell_pattern(cell_regex: str | None) -> re.Pattern | None:
    """``--cell-regex`` compiled, or None when not given; an invalid one, or one without a group, is an error."""
    if not cell_regex:
        return None
    try:
        pattern = re.compile(cell_regex)
    except re.error as error:
        raise SrasError(f"--cell-regex {cell_regex!r} is not a valid regular expression ({error})") from None
    if pattern.groups < 1:
        raise SrasError(f"--cell-regex {cell_regex!r} needs a capture group (the cell id), e.g. '_([^_]+)$'")
    return pattern


def cell_from_stem(pattern: re.Pattern, stem: str) -> str | None:
    """The cell id in a file stem: the group named ``cell``, else the first group; None where it does not match."""
    match = pattern.search(stem)
    if not match:
        return None
    return match.group("cell") if "cell" in pattern.groupindex else match.group(1)


def _scan_class_folders(root: Path, label_coding: str, cell_regex: str | None) -> list[SourceImage]:
    pattern = cell_pattern(cell_regex)
    images = []
    for folder in _subfolders(root):
        try:
            label = parse_label(folder.name, label_coding)
        except SrasError as error:
            raise SrasError(f"{display_path(folder)}: unknown label folder ({error})") from None
        for file in _files(folder):
            _check_image_file(file)
            cell_id = ""
            if pattern is not None:
                cell_id = cell_from_stem(pattern, file.stem)
                if cell_id is None:
                    raise SrasError(f"{display_path(file)}: --cell-regex {cell_regex!r} does not match its name")
            images.append(SourceImage(f"{folder.name}/{file.name}", label, cell_id))
    return images


def scan_source(
    root: str | os.PathLike, layout: str = "auto", label_coding: str = "standard", cell_regex: str | None = None
) -> tuple[str, list[SourceImage]]:
    """List a source tree's images with labels and cell ids; returns (layout used, images sorted by path).

    Every class must be present: a missing class is almost always a mislabelled or partial copy.
    """
    root = Path(root)
    if not root.is_dir():
        raise SrasError(f"{display_path(root)}: source folder does not exist")
    if not _is_utf8(str(root)):
        raise SrasError(f"{display_path(root)}: source path is not valid UTF-8; rename it")
    if layout not in LAYOUTS:
        raise SrasError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    cell_pattern(cell_regex)  # checked whatever the layout: a BioImLab tree would silently ignore a bad one
    for file in _files(root):
        if file.suffix.lower() in IMAGE_EXTENSIONS:
            raise SrasError(f"{display_path(file)}: image outside a cell or class folder, so it has no label")
    if layout == "auto":
        layout = detect_layout(root)
    if layout == "bioimlab":
        images = _scan_bioimlab(root)
    else:
        images = _scan_class_folders(root, label_coding, cell_regex)
    if not images:
        raise SrasError(f"{display_path(root)}: no images found")
    present = {image.label for image in images}
    missing = [CLASS_NAMES[i] for i in range(NUM_CLASSES) if i not in present]
    if missing:
        raise SrasError(
            f"{display_path(root)}: no images of class {', '.join(missing)} (every one of the 24 classes is needed)"
        )
    return layout, sorted(images, key=lambda image: image.path)


def decode_grayscale(data: bytes, name: str) -> np.ndarray:
    """Decode image bytes to a 2-D uint8 array; colour images must have identical channels.

    16-bit images are scaled to 8 bits by their real range, the smallest common sensor depth (10, 12, 14 or 16
    bits) that holds their brightest pixel: a 12-bit camera's image in a 16-bit file would otherwise come out nearly
    black. Palette images are converted through their palette.
    """
    name = display_path(name)
    if not data:
        raise SrasError(f"{name}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            # Pillow warns about damaged metadata (the pixels still decode) and about decompression bombs (which
            # the size check below refuses): neither may print stray lines.
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise SrasError(
                        f"{name}: image too large ({width} x {height} pixels; at most "
                        f"{MAX_IMAGE_PIXELS:,} are accepted)"
                    )
                image.load()
                array = _to_gray_array(image, name)
    except SrasError:
        raise
    except Image.DecompressionBombError:  # Pillow's own text quotes its limit, not ours
        raise SrasError(f"{name}: image too large (more than {MAX_IMAGE_PIXELS:,} pixels are not accepted)") from None
    except Image.UnidentifiedImageError:  # its text names Pillow's in-memory buffer, not the file
        raise SrasError(f"{name}: not a readable image (unknown or damaged format)") from None
    except Exception as error:  # noqa: BLE001  Pillow's decoders raise many types (OSError, ValueError,
        # SyntaxError, struct.error, IndexError, MemoryError, ...) on damaged files: all mean "not readable"
        detail = _BUFFER.sub("the image", str(error).splitlines()[0][:200]) if str(error) else type(error).__name__
        raise SrasError(f"{name}: not a readable image ({display_path(detail)})") from None
    if array.size == 0:
        raise SrasError(f"{name}: image has no pixels")
    return array


def _to_gray_array(image, name: str) -> np.ndarray:
    mode = image.mode
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("L", "1"):
        return np.asarray(image.convert("L"), dtype=np.uint8)
    if mode in ("I;16", "I;16B", "I;16L", "I", "I;16N"):
        wide = np.asarray(image, dtype=np.int64)
        return np.clip(np.round(wide * (255 / _full_scale(int(wide.max()), mode))), 0, 255).astype(np.uint8)
    if mode in ("RGB", "RGBA", "LA"):
        array = np.asarray(image)
        channels = array[..., :3] if mode != "LA" else array[..., :1]
        if not np.all(channels == channels[..., :1]):
            raise SrasError(f"{name}: colour image (its channels differ); chromosome images must be grayscale")
        return np.ascontiguousarray(channels[..., 0], dtype=np.uint8)
    raise SrasError(f"{name}: unsupported image mode {mode!r}")


def _full_scale(peak: int, mode: str) -> int:
    """The white level of wide integer pixels: 255 for 8-bit values in a 32-bit image, else that of the smallest
    common sensor depth that holds ``peak`` (a 12-bit camera's image saved as 16-bit is scaled by 4095, not 65535)."""
    if mode == "I" and peak <= 255:
        return 255
    return next((2**bits - 1 for bits in SENSOR_BITS if peak <= 2**bits - 1), 2 ** SENSOR_BITS[-1] - 1)


def read_image(path: str | os.PathLike) -> tuple[np.ndarray, str]:
    """Read an image file as a 2-D uint8 array; returns (array, md5 of the file's bytes)."""
    path = Path(path)
    name = display_path(path)
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):  # a FIFO would block, a device never end
            raise SrasError(f"{name}: not a regular file")
        if status.st_size > MAX_FILE_BYTES:
            raise SrasError(f"{name}: file too large for an image ({status.st_size:,} bytes)")
        data = path.read_bytes()
    except OSError as error:
        raise SrasError(f"{name}: cannot read ({error.strerror or error})") from None
    return decode_grayscale(data, name), hashlib.md5(data).hexdigest()


def read_source(path: str | os.PathLike, invert: bool = False) -> tuple[np.ndarray, str]:
    """A source image as its conversion sees it (``--invert``: grey levels 255 - v), and its file's md5."""
    array, md5 = read_image(path)
    return (255 - array if invert else array), md5
