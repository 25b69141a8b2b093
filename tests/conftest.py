"""Shared fixtures: tiny chromosome trees the tests draw themselves, and the real sets when present."""

import csv
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from PIL import Image

from sras_keras.data.labels import CLASS_NAMES


def draw_chromosome(label: int, rng, background: int = 0) -> np.ndarray:
    """A bar whose length grows with the class and whose band pattern encodes it, on a small canvas."""
    length = 30 - label  # class 0 (chr 1) longest
    width = 5
    canvas = np.full((length + 6, width + 6), background, dtype=np.uint8)
    bands = np.where((np.arange(length) // 3 + label) % 2 == 0, 220, 120).astype(np.uint8)
    if background == 255:
        bands = 255 - bands
    canvas[3 : 3 + length, 3 : 3 + width] = bands[:, None]
    noise = rng.integers(0, 4, canvas.shape)
    return np.where(canvas == background, np.abs(int(background) - noise), canvas).astype(np.uint8)


def cell_members(male: bool) -> list[tuple[str, str]]:
    """(class number as in BioImLab file names, homolog letter) for one normal cell."""
    members = [(str(n), h) for n in range(1, 23) for h in "ab"]
    return members + ([("23", ""), ("24", "")] if male else [("23", "a"), ("23", "b")])


def write_bioimlab_tree(root: Path, cells: int = 4, male_cells=(1,), seed: int = 0) -> Path:
    """The BioImLab layout, ``<cell>/<cell> <class><homolog>.bmp``, with tiny drawn chromosomes."""
    rng = np.random.default_rng(seed)
    for cell in range(1, cells + 1):
        folder = root / str(cell)
        folder.mkdir(parents=True)
        for number, homolog in cell_members(cell in male_cells):
            label = int(number) - 1
            Image.fromarray(draw_chromosome(label, rng)).save(folder / f"{cell} {number}{homolog}.bmp")
    return root


def write_class_tree(root: Path, cells: int = 3, names=None, background: int = 255, seed: int = 0) -> Path:
    """A folder per class (G-band style, white background), file names ending in ``_<cell>``."""
    names = names or list(CLASS_NAMES)
    rng = np.random.default_rng(seed)
    for label, name in enumerate(names):
        folder = root / name
        folder.mkdir(parents=True)
        for cell in range(cells):
            for copy in (1, 2):
                image = draw_chromosome(label, rng, background)
                Image.fromarray(image).save(folder / f"{name}_{copy}_x_{1000 + cell}.png")
    return root


def top1_predictions(folder: Path) -> dict[str, tuple[str, float]]:
    """`sras predict`'s predictions.csv in ``folder``: file name -> (top-1 class, its probability)."""
    with open(folder / "predictions.csv") as handle:
        return {
            row["file"].replace("\\", "/").rsplit("/", 1)[-1]: (row["top1"], float(row["p_top1"]))
            for row in csv.DictReader(handle)
        }


@pytest.fixture
def bioimlab_tree(tmp_path):
    return write_bioimlab_tree(tmp_path / "source")


@pytest.fixture
def class_tree(tmp_path):
    return write_class_tree(tmp_path / "gband")


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    return Path(os.environ.get("SRAS_DATA_DIR", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


def require_real_set(real_data_dir: Path, name: str) -> Path:
    path = real_data_dir / name
    if not path.is_dir():
        pytest.skip(f"real data set {name!r} not found at {path} (set SRAS_DATA_DIR to the folder holding it)")
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A 1-epoch classifier on 6 synthetic cells at 32 px (holdout split): `root/run`, `root/data`, `root/source`."""
    from sras_keras.configs.convert import ConvertConfig, SplitConfig
    from sras_keras.configs.train import TrainConfig
    from sras_keras.data.convert import convert
    from sras_keras.data.synthetic import write_synthetic_dataset
    from sras_keras.training.classifier import train_classifier

    root = tmp_path_factory.mktemp("predict")
    write_synthetic_dataset(root / "source", n_cells=6, seed=5, male_fraction=0.5)
    config = ConvertConfig(split=SplitConfig("holdout", seed=0), image_size=32, rotations=1)
    convert(root / "source", root / "data", config, log=lambda line: None)
    train = TrainConfig().replace(backbone="resnet_small", weights="none", batch_size=32, epochs=1, learning_rate=2e-3)
    train_classifier(root / "data", root / "run", train, log=lambda line: None)
    return root
