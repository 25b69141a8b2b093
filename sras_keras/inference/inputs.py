"""A user's images for ``sras predict``: files, flat folders (one cell each), cell folders (BioImLab layout) or
class folders, each image with its cell and, where the layout carries it, its label."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from sras_keras.core.errors import SrasError
from sras_keras.data.labels import parse_label
from sras_keras.data.readers import (
    _BIOIMLAB_NAME,
    IMAGE_EXTENSIONS,
    cell_from_stem,
    cell_pattern,
    detect_layout,
    display_path,
    read_image,
)


@dataclasses.dataclass
class InputImage:
    name: str  # as given, for the outputs
    cell_id: str
    label: int | None  # known from the layout (BioImLab names, class folders, TFRecords), else None
    array: np.ndarray | None = None  # (H, W) uint8, None for TFRecord inputs (already preprocessed)
    synthetic: bool = False  # a SMOTE image of a converted dataset (the paper protocol's test part holds some)


def gather_inputs(paths: list[Path], cell_regex: str | None = None) -> tuple[list[InputImage], list[tuple[str, str]]]:
    """Image files, flat folders (one cell each), folders of cell folders (BioImLab layout) or of class folders.

    Returns (readable images, [(path, reason) skipped]). Cells come from ``cell_regex`` (its group ``cell`` or
    first group, matched on the file stem) when given, else from the enclosing folder."""
    pattern = cell_pattern(cell_regex)
    found: list[tuple[Path, str, int | None]] = []
    for path in paths:
        if path.is_file():
            found.append((path, path.parent.name, _bioimlab_label(path)))
        elif path.is_dir():
            found.extend(_folder_images(path))
        else:
            raise SrasError(f"{path}: no such file or folder")
    if not found:
        raise SrasError(f"{', '.join(map(str, paths))}: no images ({', '.join(IMAGE_EXTENSIONS)}) found")
    if pattern is None:
        _check_distinct_cells(found)
    images, skipped = [], []
    for file, cell, label in found:
        name = display_path(file)  # printable even for non-UTF-8 names; outputs are UTF-8 text
        if pattern is not None:
            cell = cell_from_stem(pattern, file.stem)
            if cell is None:
                skipped.append((name, f"--cell-regex {cell_regex!r} does not match its name"))
                continue
        try:
            array, _ = read_image(file)
        except SrasError as error:
            skipped.append((name, str(error).removeprefix(f"{name}: ")))
            continue
        images.append(InputImage(name, display_path(cell), label, array))
    return images, skipped


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


def _images_in(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    )


def _folder_images(root: Path) -> list[tuple[Path, str, int | None]]:
    subfolders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subfolders:
        return [(file, root.name, _bioimlab_label(file)) for file in _images_in(root)]
    labels = {folder: _label_or_none(folder.name) for folder in subfolders}
    # Class folders (their cells must come from --cell-regex), unless BioImLab's numbered cell folders.
    if detect_layout(root) != "bioimlab" and all(label is not None for label in labels.values()):
        return [(file, "", labels[folder]) for folder in subfolders for file in _images_in(folder)]
    return [(file, folder.name, _bioimlab_label(file)) for folder in subfolders for file in _images_in(folder)]


def _bioimlab_label(file: Path) -> int | None:
    """BioImLab's '<cell> <class>[ab].bmp' names carry the label; other names none."""
    match = _BIOIMLAB_NAME.match(file.name)
    return _label_or_none(match.group(2)) if match else None


def _label_or_none(text: str) -> int | None:
    try:
        return parse_label(text)
    except SrasError:
        return None
