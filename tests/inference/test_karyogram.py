import numpy as np
import pytest
from PIL import Image

from sras_keras.core.errors import SrasError
from sras_keras.data.labels import NUM_CLASSES, X_INDEX, Y_INDEX
from sras_keras.inference.karyogram import karyogram_figure, karyogram_layout, karyogram_tiles
from sras_keras.inference.karyotype import assign_karyotype
from tests.conftest import draw_chromosome

CHR4, CHR5, CHR21 = 3, 4, 20


def trisomy_21_cell(seed: int = 0, background: int = 0):
    """A male cell with an extra 21, its drawn images, and probabilities with one 4 that looks like a 5."""
    labels = np.array([c for c in range(X_INDEX) for _ in range(2)] + [X_INDEX, Y_INDEX, CHR21])
    rng = np.random.default_rng(seed)
    images = [draw_chromosome(int(label), rng, background) for label in labels]
    probabilities = np.full((len(labels), NUM_CLASSES), 0.05 / (NUM_CLASSES - 1))
    probabilities[np.arange(len(labels)), labels] = 0.95
    doubtful = np.flatnonzero(labels == CHR4)[0]
    probabilities[doubtful, [CHR4, CHR5]] = 0.3, 0.65
    return images, assign_karyotype(probabilities), doubtful


def test_layout_holds_every_class_once():
    layout = karyogram_layout()
    assert [len(row) for row in layout] == [5, 8, 6, 5]
    assert sorted(c for row in layout for c in row) == list(range(NUM_CLASSES))
    assert layout[1][-1] == X_INDEX and layout[3][-1] == Y_INDEX


def test_one_tile_per_assigned_image_in_layout_order():
    _, result, _ = trisomy_21_cell()
    tiles = karyogram_tiles(result)
    assert len(tiles) == (result.assigned >= 0).sum() == 47
    assert sorted(i for _, i in tiles) == list(range(47))
    order = [c for row in karyogram_layout() for c in row]
    assert [c for c, _ in tiles] == sorted((c for c, _ in tiles), key=order.index)
    assert [c for c, _ in tiles].count(CHR21) == 3


@pytest.mark.parametrize("background", [0, 255])
def test_figure_is_a_png(tmp_path, background):
    images, result, doubtful = trisomy_21_cell(background=background)
    assert result.low_confidence[doubtful]
    path = karyogram_figure(images, result, tmp_path / "figures" / "cell_7.png", title="cell 7", background=background)
    assert path == tmp_path / "figures" / "cell_7.png"
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width >= 1000 and image.height > 0
        image.verify()
    assert [p.name for p in path.parent.iterdir()] == ["cell_7.png"]  # no temporary left behind


def test_figure_refuses_mismatched_images(tmp_path):
    images, result, _ = trisomy_21_cell()
    with pytest.raises(SrasError, match="46 images"):
        karyogram_figure(images[:-1], result, tmp_path / "k.png")
    with pytest.raises(SrasError, match="uint8"):
        karyogram_figure([image.astype(float) for image in images], result, tmp_path / "k.png")
