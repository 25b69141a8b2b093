"""How `sras predict` reads its INPUTS: each layout as named, `auto` refusing trees that read more than one way, and
every file it does not read listed with why."""

import os

import numpy as np
import pytest
from PIL import Image

from sras_keras.core.errors import SrasError
from sras_keras.core.run_files import MANIFEST
from sras_keras.data.labels import X_INDEX, Y_INDEX
from sras_keras.inference.inputs import gather_inputs, labels_source, resolve_layout


def chromosome(path, value=200):
    """A tiny grayscale image with a bar of ``value`` on black."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.zeros((12, 12), np.uint8)
    image[3:9, 5:7] = value
    Image.fromarray(image).save(path)
    return path


def tree(root, folders, name="img.png"):
    for folder in folders:
        chromosome(root / folder / name)
    return root


def test_each_layout_reads_as_named(tmp_path):
    bioimlab = tmp_path / "bioimlab"
    chromosome(bioimlab / "7" / "7 24a.bmp")
    chromosome(bioimlab / "30" / "30 1b.bmp")  # a cell number that is no class: still BioImLab's cell folders
    assert resolve_layout([bioimlab]) == "cell_folders"
    images, skipped = gather_inputs([bioimlab])
    assert [(image.cell_id, image.label) for image in images] == [("30", 0), ("7", Y_INDEX)] and not skipped
    assert labels_source("cell_folders", "standard", images) == "BioImLab file names"

    classes = tree(tmp_path / "classes", ["1", "X"])
    images, _ = gather_inputs([classes], cell_regex=None, layout="class_folders")
    assert [(image.cell_id, image.label) for image in images] == [("", 0), ("", X_INDEX)]
    assert labels_source("class_folders", "standard", images) == "class folder names (standard coding)"
    images, _ = gather_inputs([classes], cell_regex=r"^(img)$", layout="class_folders")
    assert {image.cell_id for image in images} == {"img"}

    cells = tree(tmp_path / "cells", ["c1", "c2"])
    assert resolve_layout([cells]) == "cell_folders" and resolve_layout([cells / "c1"]) == "cells"
    images, _ = gather_inputs([cells / "c1" / "img.png", cells / "c2" / "img.png"], layout="files")
    assert [image.cell_id for image in images] == ["c1", "c2"] and labels_source("files", "standard", images) == "none"
    # a file beside its own folder reads alike either way: an image of the folder's cell
    assert resolve_layout([cells / "c1", cells / "c1" / "img.png"]) == "cells"


def test_auto_refuses_class_named_folders_it_could_read_as_cells(tmp_path):
    numbered = tree(tmp_path / "numbered", ["1", "2", "3"])
    with pytest.raises(SrasError, match=r"numbered: .*\(1, 2, 3\).*--layout class_folders.*--layout cell_folders"):
        resolve_layout([numbered])
    as_classes, _ = gather_inputs([numbered], layout="class_folders")
    as_cells, _ = gather_inputs([numbered], layout="cell_folders")
    assert [image.label for image in as_classes] == [0, 1, 2] and {image.cell_id for image in as_classes} == {""}
    assert [image.cell_id for image in as_cells] == ["1", "2", "3"] and {image.label for image in as_cells} == {None}


def test_a_stray_folder_among_class_folders_is_named(tmp_path):
    stray = tree(tmp_path / "stray", ["1", "2", "unsorted"])
    with pytest.raises(SrasError, match=r"stray: sub-folders 1, 2 are named like classes .* but unsorted is not"):
        resolve_layout([stray])
    with pytest.raises(SrasError, match=r"stray/unsorted: unknown label folder"):  # as `sras data convert`
        gather_inputs([stray], layout="class_folders")
    zero = tree(tmp_path / "zero", ["0", "1", "2"])
    with pytest.raises(SrasError, match=r"but 0 is not \(--label-coding sras reads 0 as Y\)"):
        resolve_layout([zero])
    images, _ = gather_inputs([zero], layout="class_folders", label_coding="sras")
    assert [image.label for image in images] == [Y_INDEX, 0, 1]


def test_mixed_or_misnamed_layouts_are_refused(tmp_path):
    cells = tree(tmp_path / "cells", ["c1", "c2"])
    flat = chromosome(tmp_path / "flat" / "img.png").parent
    with pytest.raises(SrasError, match=r"INPUTS in different layouts \(.*cells: cell_folders; .*flat: cells\)"):
        resolve_layout([cells, flat])
    chromosome(cells / "loose.png")
    with pytest.raises(SrasError, match=r"cells: holds both images \(1\) and sub-folders \(c1, c2\).*--layout cells"):
        resolve_layout([cells])
    with pytest.raises(SrasError, match="a folder, but --layout files reads image files"):
        resolve_layout([cells], "files")
    with pytest.raises(SrasError, match="not a folder, but --layout class_folders reads folders"):
        resolve_layout([cells / "loose.png"], "class_folders")
    with pytest.raises(SrasError, match=f"--layout records reads one converted dataset .*{MANIFEST}"):
        resolve_layout([cells], "records")
    (cells / MANIFEST).write_text("{}")
    assert resolve_layout([cells]) == "records"
    with pytest.raises(SrasError, match="--layout records reads one converted dataset"):
        resolve_layout([cells, flat])
    _, skipped = gather_inputs([cells], layout="cell_folders")
    assert [(os.path.basename(name), why) for name, why in skipped][:1] == [("loose.png", "outside the cell folders")]


def test_files_not_read_are_listed_with_why(tmp_path):
    cell = tmp_path / "cell"
    chromosome(cell / "a.png")
    (cell / "notes.txt").write_text("not an image")
    os.mkfifo(cell / "pipe.png")  # opened, it would block for ever
    os.symlink("loop-b.png", cell / "loop-a.png")
    os.symlink("loop-a.png", cell / "loop-b.png")
    os.symlink("nowhere.png", cell / "broken.png")
    (cell / "Thumbs.db").write_text("the OS's")
    (cell / ".hidden.png").write_text("an editor's")
    chromosome(cell / "inner" / "b.png")
    images, skipped = gather_inputs([cell], layout="cells")
    assert [image.name for image in images] == [str(cell / "a.png")]
    reasons = {os.path.basename(name): why for name, why in skipped}
    assert reasons == {
        "broken.png": "broken symbolic link (to nowhere.png)",
        "inner": "a folder inside a cell folder, not read",
        "loop-a.png": "symbolic link loop",
        "loop-b.png": "symbolic link loop",
        "notes.txt": "not an image file (supported: .png, .bmp, .tif, .tiff, .jpg, .jpeg)",
        "pipe.png": "not a regular file (a FIFO)",
    }
    only = tmp_path / "only-a-fifo"
    only.mkdir()
    os.mkfifo(only / "pipe.png")
    with pytest.raises(SrasError, match=r"no images .* found; 1 not read \(first: .*pipe.png: not a regular file"):
        gather_inputs([only])
