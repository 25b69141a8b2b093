"""Helpers shared by the benchmark scripts (no TensorFlow import here: ``bench_all.py`` stays light)."""

from __future__ import annotations

import os
from pathlib import Path

# The Y chromosome's file name in the BioImLab layout: `<cell> 24.bmp` (males only).
_Y_NAMES = (" 24.", " 24a.", " 24b.")


def cell_folders(source: Path) -> list[Path]:
    """A BioImLab-layout tree's cell folders, in name order (hidden folders and files skipped)."""
    return sorted(
        (p for p in Path(source).iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name
    )


def is_male(folder: Path) -> bool:
    return any(any(tag in f.name for tag in _Y_NAMES) for f in folder.iterdir())


def image_count(folder: Path) -> int:
    return sum(1 for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))


def subset_tree(source: Path, n_images: int, dest: Path, min_cells: int = 6) -> Path:
    """A BioImLab-layout tree of whole cells (symlinked folders) holding at least ``n_images`` images.

    Male and female cells alternate, so every class (Y included) is present and a cell-grouped holdout split
    still has male cells in train, val and test. At least ``min_cells`` cells are taken (the first is male).
    """
    source, dest = Path(source).resolve(), Path(dest)
    cells = cell_folders(source)
    male = [c for c in cells if is_male(c)]
    female = [c for c in cells if c not in male]
    order = [c for pair in zip(male, female) for c in pair]
    order += male[len(order) // 2 :] + female[len(order) // 2 :]
    dest.mkdir(parents=True, exist_ok=False)
    taken = images = 0
    for cell in order:
        if images >= n_images and taken >= min_cells:
            break
        os.symlink(cell, dest / cell.name, target_is_directory=True)
        taken += 1
        images += image_count(cell)
    return dest
