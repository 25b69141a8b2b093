"""A user's images for ``sras predict``, read in one named layout (``INPUT_LAYOUTS``): image files, flat folders (one
cell each), folders of cell folders (BioImLab layout), folders of class folders, or one converted dataset. Each image
comes with its cell and, where the layout carries it, its label.

``auto`` reads a tree only when one reading fits it: folders named like classes may be classes or numbered cells,
so such a tree is refused with the choices rather than guessed. Files in the folders that are not read (other file
types, FIFOs, broken links) are listed with the reason, not dropped; nothing is opened before it is known to be a
regular file, as a FIFO would block.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
from pathlib import Path

import numpy as np

from sras_keras.core.errors import SrasError
from sras_keras.core.io import display_path
from sras_keras.core.run_files import MANIFEST
from sras_keras.data.labels import CLASS_NAMES, LABEL_CODINGS, parse_label
from sras_keras.data.readers import (
    _BIOIMLAB_NAME,
    IMAGE_EXTENSIONS,
    _is_ignored,
    cell_from_stem,
    cell_pattern,
    read_image,
)

INPUT_LAYOUTS = ("auto", "cells", "cell_folders", "class_folders", "files", "records")
_NOT_REGULAR = {stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device"}


@dataclasses.dataclass
class InputImage:
    name: str  # as given, for the outputs
    cell_id: str
    label: int | None  # known from the layout (BioImLab names, class folders, TFRecords), else None
    array: np.ndarray | None = None  # (H, W) uint8, None for TFRecord inputs (already preprocessed)
    synthetic: bool = False  # a SMOTE image of a converted dataset (the paper protocol's test part holds some)


@dataclasses.dataclass
class _Listing:
    """A folder's entries: sub-folders, image files, and (name, why) for the rest; hidden files and the OS's
    Thumbs.db/desktop.ini are left out."""

    folders: list[Path]
    images: list[Path]
    unread: list[tuple[str, str]]


def _entry_kind(path: Path) -> tuple[str, str]:
    """('folder' | 'image' | 'unread', why not read), from the entry's status only: nothing is opened."""
    try:
        mode = path.stat().st_mode
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "unread", "symbolic link loop"
        if error.errno == errno.ENOENT and path.is_symlink():
            return "unread", f"broken symbolic link (to {display_path(os.readlink(path))})"
        return "unread", f"cannot read ({error.strerror or error})"
    if stat.S_ISDIR(mode):
        return "folder", ""
    if not stat.S_ISREG(mode):
        return "unread", f"not a regular file ({_NOT_REGULAR.get(stat.S_IFMT(mode), 'a special file')})"
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        return "unread", f"not an image file (supported: {', '.join(IMAGE_EXTENSIONS)})"
    return "image", ""


def _list(folder: Path) -> _Listing:
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as error:
        raise SrasError(f"{display_path(folder)}: cannot list ({error.strerror or error})") from None
    listing = _Listing([], [], [])
    for path in entries:
        if _is_ignored(path.name):
            continue
        kind, why = _entry_kind(path)
        if kind == "folder":
            listing.folders.append(path)
        elif kind == "image":
            listing.images.append(path)
        else:
            listing.unread.append((display_path(path), why))
    return listing


def _folder_name(folder: Path) -> str:
    """The cell a folder's images belong to: its name (that of the working folder for '.')."""
    return folder.name or folder.resolve().name


def _bioimlab_cell(folder: Path, listing: _Listing) -> bool:
    """A BioImLab cell folder: an image named '<folder> <class>[ab].bmp'."""
    return any((m := _BIOIMLAB_NAME.match(p.name)) and m.group(1) == folder.name for p in listing.images)


def _label_or_none(text: str, coding: str = "standard") -> int | None:
    try:
        return parse_label(text, coding)
    except SrasError:
        return None


def _folder_layout(root: Path, label_coding: str) -> str:
    """The one reading of a folder, or a SrasError naming the ``--layout`` choices when more than one fits."""
    if (root / MANIFEST).is_file():
        return "records"
    listing = _list(root)
    folders = listing.folders
    if not folders:
        return "cells"
    if listing.images:
        raise SrasError(
            f"{display_path(root)}: holds both images ({len(listing.images)}) and sub-folders "
            f"({_names(folders)}): pass --layout cells to read its images as one cell, or --layout cell_folders "
            "or --layout class_folders to read its sub-folders"
        )
    if any(_bioimlab_cell(folder, _list(folder)) for folder in folders):
        return "cell_folders"
    labelled = [folder for folder in folders if _label_or_none(folder.name, label_coding) is not None]
    if not labelled:
        return "cell_folders"
    if len(labelled) == len(folders):
        raise SrasError(
            f"{display_path(root)}: its sub-folders ({_names(folders)}) are named like classes but hold no BioImLab "
            "file names ('<cell> <class>[ab].bmp'): pass --layout class_folders if each folder holds one class, or "
            "--layout cell_folders if each holds one cell"
        )
    odd = [folder for folder in folders if folder not in labelled]
    other = next(coding for coding in LABEL_CODINGS if coding != label_coding)
    recoded = {folder.name: _label_or_none(folder.name, other) for folder in odd}
    read = ", ".join(f"{name} as {CLASS_NAMES[label]}" for name, label in recoded.items() if label is not None)
    hint = f" (--label-coding {other} reads {read})" if read else ""
    raise SrasError(
        f"{display_path(root)}: sub-folders {_names(labelled)} are named like classes ({label_coding} coding) but "
        f"{_names(odd)} {'is' if len(odd) == 1 else 'are'} not{hint}: move the odd folders out and pass --layout "
        "class_folders, or pass --layout cell_folders to read every sub-folder as one cell"
    )


def _names(folders: list[Path], shown: int = 8) -> str:
    names = [display_path(folder.name) for folder in folders]
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def resolve_layout(paths: list[Path], layout: str = "auto", label_coding: str = "standard") -> str:
    """The layout ``paths`` are read in: ``layout`` checked against them, or for ``auto`` the one every INPUT fits
    (image files beside flat folders read alike: each image is its folder's cell)."""
    if layout not in INPUT_LAYOUTS:
        raise SrasError(f"unknown layout {layout!r}; choose one of {', '.join(INPUT_LAYOUTS)}")
    if label_coding not in LABEL_CODINGS:
        raise SrasError(f"unknown label coding {label_coding!r}; choose one of {', '.join(LABEL_CODINGS)}")
    for path in paths:
        if not os.path.lexists(path):
            raise SrasError(f"{display_path(path)}: no such file or folder")
    if layout == "records" or (layout == "auto" and any((path / MANIFEST).is_file() for path in paths)):
        if len(paths) != 1 or not (paths[0] / MANIFEST).is_file():
            raise SrasError(
                f"{', '.join(map(display_path, paths))}: --layout records reads one converted dataset (a folder with "
                f"{MANIFEST}); predict it alone"
            )
        return "records"
    if layout != "auto":
        for path in paths:
            if path.is_dir() and layout == "files":
                raise SrasError(f"{display_path(path)}: a folder, but --layout files reads image files")
            if not path.is_dir() and layout in ("cell_folders", "class_folders"):
                raise SrasError(f"{display_path(path)}: not a folder, but --layout {layout} reads folders")
        return layout
    found = {path: _folder_layout(path, label_coding) if path.is_dir() else "files" for path in paths}
    layouts = set(found.values())
    if len(layouts) == 1 or layouts == {"cells", "files"}:
        return "cells" if "cells" in layouts else layouts.pop()
    shown = "; ".join(f"{display_path(path)}: {found[path]}" for path in paths)
    raise SrasError(
        f"INPUTS in different layouts ({shown}): predict each layout separately, or pass --layout to read them all "
        "one way"
    )


def labels_source(layout: str, label_coding: str, images: list[InputImage]) -> str:
    """Where the images' labels came from, for the summary: 'none' when no image has one."""
    labelled = sum(image.label is not None for image in images)
    if not labelled:
        return "none"
    source = {
        "records": "the converted dataset's records",
        "class_folders": f"class folder names ({label_coding} coding)",
    }.get(layout, "BioImLab file names")
    return source if labelled == len(images) else f"{source} ({labelled} of {len(images)} images)"


def gather_inputs(
    paths: list[Path], cell_regex: str | None = None, layout: str = "auto", label_coding: str = "standard"
) -> tuple[list[InputImage], list[tuple[str, str]]]:
    """The images of ``paths`` read in ``layout`` (``resolve_layout``; not ``records``, which ``predict_records``
    reads); ``label_coding`` names class folders.

    Returns (readable images, [(path, reason) not read]). Cells come from ``cell_regex`` (its group ``cell`` or
    first group, matched on the file stem) when given, else from the enclosing folder (class folders: none)."""
    paths = [Path(path) for path in paths]
    pattern = cell_pattern(cell_regex)
    layout = resolve_layout(paths, layout, label_coding)
    if layout == "records":
        raise SrasError(f"{display_path(paths[0])}: a converted dataset; its records are predicted, not its files")
    found: list[tuple[Path, str, int | None]] = []
    unread: list[tuple[str, str]] = []
    for path in paths:
        if not path.is_dir():
            found.append((path, _folder_name(path.parent), _bioimlab_label(path)))
        elif layout == "cells":
            _read_cell(path, found, unread)
        else:
            listing = _list(path)
            unread += [(display_path(p), f"outside the {layout.replace('_', ' ')}") for p in listing.images]
            unread += listing.unread
            for folder in listing.folders:
                if layout == "class_folders":
                    _read_class(folder, label_coding, found, unread)
                else:
                    _read_cell(folder, found, unread)
    if not found:
        why = f"; {len(unread)} not read (first: {unread[0][0]}: {unread[0][1]})" if unread else ""
        raise SrasError(f"{', '.join(map(display_path, paths))}: no images ({', '.join(IMAGE_EXTENSIONS)}) found{why}")
    if pattern is None:
        _check_distinct_cells(found)
    images = []
    for file, cell, label in found:
        name = display_path(file)  # printable even for non-UTF-8 names; outputs are UTF-8 text
        if pattern is not None:
            cell = cell_from_stem(pattern, file.stem)
            if cell is None:
                unread.append((name, f"--cell-regex {cell_regex!r} does not match its name"))
                continue
        try:
            array, _ = read_image(file)
        except SrasError as error:
            unread.append((name, str(error).removeprefix(f"{name}: ")))
            continue
        images.append(InputImage(name, display_path(cell), label, array))
    return images, unread


def _read_cell(folder: Path, found: list, unread: list) -> None:
    """A flat folder as one cell: its images; a folder inside it is listed, not walked."""
    listing = _list(folder)
    found += [(file, _folder_name(folder), _bioimlab_label(file)) for file in listing.images]
    unread += listing.unread + [(display_path(p), "a folder inside a cell folder, not read") for p in listing.folders]


def _read_class(folder: Path, label_coding: str, found: list, unread: list) -> None:
    """A class folder: every image is of the class its name gives; a name that is no class is an error, as in
    ``sras data convert``."""
    try:
        label = parse_label(folder.name, label_coding)
    except SrasError as error:
        raise SrasError(f"{display_path(folder)}: unknown label folder ({error})") from None
    listing = _list(folder)
    found += [(file, "", label) for file in listing.images]
    unread += listing.unread + [(display_path(p), "a folder inside a class folder, not read") for p in listing.folders]


def _check_distinct_cells(found: list[tuple[Path, str, int | None]]) -> None:
    """A cell named after its folder must come from one folder: `a/1` and `b/1` are two cells, not one of 92."""
    folders: dict[str, set[Path]] = {}
    for file, cell, _ in found:
        if cell:
            folders.setdefault(cell, set()).add(file.parent.resolve())
    for cell, where in sorted(folders.items()):
        if len(where) > 1:
            shown = ", ".join(display_path(folder) for folder in sorted(where))
            raise SrasError(
                f"cell {display_path(cell)!r} names {len(where)} different folders ({shown}); their "
                "images would merge into one cell: rename the folders or predict them separately"
            )


def _bioimlab_label(file: Path) -> int | None:
    """BioImLab's '<cell> <class>[ab].bmp' names carry the label; other names none."""
    match = _BIOIMLAB_NAME.match(file.name)
    return _label_or_none(match.group(2)) if match else None
