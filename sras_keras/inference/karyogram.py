"""A karyogram: one cell's chromosome images arranged by assigned class in the standard layout, the way a
cytogeneticist reviews a karyotype, with doubtful assignments marked in red."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from sras_keras.core.errors import SrasError
from sras_keras.core.io import atomic_path
from sras_keras.data.labels import CLASS_NAMES, X_INDEX, Y_INDEX
from sras_keras.inference.karyotype import KaryotypeResult

LAYOUT = (
    tuple(range(0, 5)),
    tuple(range(5, 12)) + (X_INDEX,),
    tuple(range(12, 18)),
    tuple(range(18, 22)) + (Y_INDEX,),
)
FIGURE_WIDTH_INCHES = 12.0
LABEL_INCHES = 0.3
TITLE_LINE_INCHES = 0.25
DOUBTFUL_COLOUR = "red"


def karyogram_layout() -> tuple[tuple[int, ...], ...]:
    """Rows of class indices: 1-5; 6-12 and X; 13-18; 19-22 and Y."""
    return LAYOUT


def karyogram_tiles(result: KaryotypeResult) -> list[tuple[int, int]]:
    """(class index, image index) of every assigned image, in drawing order: row by row, class by class."""
    return [(c, int(i)) for row in LAYOUT for c in row for i in np.flatnonzero(result.assigned == c)]


def karyogram_figure(
    images: list[np.ndarray], result: KaryotypeResult, path: str | Path, title: str = "", background: int = 0
) -> Path:
    """Draw ``images`` (one cell's 2-D uint8 chromosomes, in the order ``result`` indexes them) as a karyogram.

    Every image keeps its pixel size, so the whole figure shares one scale and relative chromosome lengths are true;
    images sit on a common baseline above their class label. ``background`` fills the space between them (0 for
    dark-field sets such as BioImLab, 255 for G-band on white).
    """
    images = [_checked_image(image, index) for index, image in enumerate(images)]
    if len(images) != len(result.assigned):
        raise SrasError(f"{len(images)} images for a karyotype of {len(result.assigned)} chromosomes")
    if not 0 <= background <= 255:
        raise SrasError(f"background must be a grey level in 0..255, got {background}")
    sheet = _lay_out(images, result, background)
    heading = " | ".join(part for part in (title, f"{len(images)} chromosomes, sex {result.sex}") if part)
    figure = _draw(sheet, result, [heading, *result.flags], background)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=min(200.0, max(100.0, sheet.pixels_per_inch)), facecolor="white")
    return path


@dataclasses.dataclass
class _Sheet:
    """The karyogram's pixels and where everything on them is."""

    canvas: np.ndarray
    placed: list[tuple[int, int, int, int, int]]  # (image index, left, top, width, height)
    labels: list[tuple[int, float, float]]  # (class index, centre x, centre y)
    members: dict[int, list[int]]  # class index -> its images, left to right
    pixels_per_inch: float


def _lay_out(images: list[np.ndarray], result: KaryotypeResult, background: int) -> _Sheet:
    """Each row of ``LAYOUT`` on a common baseline, each class's images side by side in a slot at least two
    typical chromosomes wide (so an empty or lone class keeps its place), the slots spread over the widest row."""
    tiles = karyogram_tiles(result)
    typical_width = int(np.median([image.shape[1] for image in images]))
    typical_height = int(np.median([image.shape[0] for image in images]))
    gap = max(2, round(0.25 * typical_width))

    members = {c: [i for tile_class, i in tiles if tile_class == c] for row in LAYOUT for c in row}
    content_width = {
        c: max(2 * typical_width + gap, sum(images[i].shape[1] for i in members[c]) + gap * (len(members[c]) - 1))
        for c in members
    }
    canvas_width = max(sum(content_width[c] + 2 * gap for c in row) for row in LAYOUT)
    pixels_per_inch = canvas_width / FIGURE_WIDTH_INCHES
    label_height = math.ceil(LABEL_INCHES * pixels_per_inch)
    image_heights = [
        max([images[i].shape[0] for c in row for i in members[c]], default=typical_height) for row in LAYOUT
    ]
    canvas_height = sum(height + label_height + 2 * gap for height in image_heights)
    canvas = np.full((canvas_height, canvas_width), background, dtype=np.uint8)

    placed, labels = [], []
    row_top = 0
    for row, image_height in zip(LAYOUT, image_heights):
        baseline = row_top + gap + image_height
        spare = (canvas_width - sum(content_width[c] + 2 * gap for c in row)) / len(row)
        left = 0.0
        for c in row:
            cell_width = content_width[c] + 2 * gap + spare
            used = sum(images[i].shape[1] for i in members[c]) + gap * max(0, len(members[c]) - 1)
            x = round(left + (cell_width - used) / 2)
            for i in members[c]:
                height, width = images[i].shape
                canvas[baseline - height : baseline, x : x + width] = images[i]
                placed.append((i, x, baseline - height, width, height))
                x += width + gap
            labels.append((c, left + cell_width / 2, baseline + label_height / 2))
            left += cell_width
        row_top += image_height + label_height + 2 * gap
    return _Sheet(canvas, placed, labels, members, pixels_per_inch)


def _draw(sheet: _Sheet, result: KaryotypeResult, title_lines: list[str], background: int) -> Figure:
    """The sheet at its own scale under its title lines; doubtful images boxed and their class labels marked."""
    canvas_inches = sheet.canvas.shape[0] / sheet.pixels_per_inch
    title_inches = TITLE_LINE_INCHES * (len(title_lines) + 0.5)
    figure_height = canvas_inches + title_inches

    figure = Figure(figsize=(FIGURE_WIDTH_INCHES, figure_height), facecolor="white")
    axis = figure.add_axes((0, 0, 1, canvas_inches / figure_height))
    axis.imshow(sheet.canvas, cmap="gray", vmin=0, vmax=255)
    axis.set_axis_off()
    ink = "white" if background < 128 else "black"
    for i, x, y, width, height in sheet.placed:
        if result.low_confidence[i]:
            axis.add_patch(
                Rectangle((x - 1.5, y - 1.5), width + 2, height + 2, fill=False, edgecolor=DOUBTFUL_COLOUR, linewidth=1)
            )
    for c, x, y in sheet.labels:
        doubtful = any(result.low_confidence[i] for i in sheet.members[c])
        axis.text(
            x,
            y,
            CLASS_NAMES[c] + ("?" if doubtful else ""),
            ha="center",
            va="center",
            fontsize=9,
            color=DOUBTFUL_COLOUR if doubtful else ink,
            weight="bold" if doubtful else "normal",
        )
    figure.text(
        0.5,
        1 - 0.5 * TITLE_LINE_INCHES / figure_height,
        "\n".join(title_lines),
        ha="center",
        va="top",
        fontsize=10,
        linespacing=1.4,
    )
    return figure


def _checked_image(image, index: int) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2 or image.dtype != np.uint8 or image.size == 0:
        raise SrasError(
            f"image {index}: expected a non-empty 2-D uint8 grayscale array, got {image.dtype} of shape {image.shape}"
        )
    return image
