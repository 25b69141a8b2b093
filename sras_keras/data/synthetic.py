"""Procedural Q-band karyotypes: the embedded default data set, so a demo needs no download.

The images imitate the BioImLab Q-band set (bright fluorescent chromosomes on a black background,
grayscale, tight crops) and are written in its folder layout, so every reader of the real set reads
them too. A class is recognisable the way a cytogeneticist recognises it: by its length, the
position of its centromere and its banding pattern, each blurred by per-instance variation.

Only numpy, scipy.ndimage and PIL are used (no TensorFlow) so a whole cell renders in well under a second.
"""

import os
import secrets
import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from sras_keras.core.errors import SrasError
from sras_keras.core.io import cannot_write, display_path, make_folder
from sras_keras.core.progress import progress as progress_bar
from sras_keras.data.labels import CLASS_NAMES, NUM_CLASSES, X_INDEX, Y_INDEX

# Per class index 0..23 (chromosomes 1..22, X, Y): (relative length as % of the haploid autosomal
# length, centromere index p/(p+q)), from the standard ISCN ideogram proportions of human metaphase
# chromosomes. They drive each class's length and centromere position.
CLASS_GEOMETRY = (
    (8.44, 0.48),
    (8.02, 0.39),
    (6.83, 0.47),
    (6.30, 0.29),
    (6.08, 0.29),
    (5.90, 0.39),
    (5.36, 0.39),
    (4.93, 0.34),
    (4.80, 0.35),
    (4.59, 0.33),
    (4.61, 0.40),
    (4.66, 0.30),
    (3.74, 0.17),
    (3.56, 0.18),
    (3.46, 0.20),
    (3.36, 0.41),
    (3.25, 0.34),
    (2.93, 0.31),
    (2.67, 0.47),
    (2.56, 0.45),
    (1.90, 0.31),
    (2.04, 0.30),
    (5.12, 0.40),
    (2.15, 0.27),
)
SEXES = ("female", "male")

# Chromosome 1 at cell_scale 1 is this long, in pixels: BioImLab's median chromosome 1 crop is ~92 px.
_LONGEST_LENGTH_PX = 90.0
_LONGEST_RELATIVE_LENGTH = max(length for length, _ in CLASS_GEOMETRY)
_WIDTH_PX = 12.0
# Pixels above this fraction of the chromosome's peak count as chromosome for the tight crop.
_FOREGROUND_FRACTION = 0.05


def _class_band_pattern(class_index):
    """Band boundaries (fractions of the length, p-telomere first) and relative fluorescence of each band.

    Seeded by the class alone, so every instance of a class shares its bands, as in real karyotypes.
    """
    rng = np.random.default_rng(1000 + class_index)
    relative_length, centromere_index = CLASS_GEOMETRY[class_index]
    n_bands = max(3, round(1.6 * relative_length))
    # Band widths vary along a chromosome (a few broad bands, several narrow ones), as in an ideogram.
    widths = rng.dirichlet(np.full(n_bands, 2.5))
    edges = np.concatenate([[0.0], np.cumsum(widths)])
    # Q-bands alternate bright and dull, the bright ones about twice as bright as the dull ones; how bright overall
    # varies between classes (19 and 22 are dull).
    class_level = rng.uniform(0.6, 0.95)
    contrast = rng.uniform(0.18, 0.4, n_bands)
    bright = (np.arange(n_bands) + rng.integers(2)) % 2 == 0
    levels = class_level + np.where(bright, contrast, -contrast)
    # The centromere is a dull constriction.
    levels[np.searchsorted(edges, centromere_index, side="right") - 1] *= 0.75
    levels = np.clip(levels, 0.3, 1.0)
    if class_index == Y_INDEX:
        # Distal Yq heterochromatin (Yq12) is the brightest Q-band in the karyotype.
        levels[edges[:-1] >= 0.6] = 1.4
    return edges, levels


_BAND_PATTERNS = tuple(_class_band_pattern(i) for i in range(NUM_CLASSES))


def _straight_chromosome(class_index, length, width, rng):
    """An upright chromosome, p arm on top, as a float image in 0..1: a banded rod, two sister chromatids."""
    edges, levels = _BAND_PATTERNS[class_index]
    centromere = CLASS_GEOMETRY[class_index][1] * length
    margin = 4
    y = np.arange(int(np.ceil(length)) + 2 * margin, dtype=np.float64)[:, None] - margin
    x = np.arange(int(np.ceil(width)) + 2 * margin, dtype=np.float64)[None, :] - margin - width / 2

    # Per-instance band jitter: band intensities and boundaries shift slightly, the pattern stays.
    jittered_levels = levels * rng.normal(1.0, 0.06, levels.size)
    jittered_edges = np.sort(edges + np.concatenate([[0], rng.normal(0, 0.008, edges.size - 2), [0]]))
    band = np.searchsorted(jittered_edges, np.clip(y / length, 0, 1), side="right") - 1
    axis_intensity = jittered_levels[np.clip(band, 0, levels.size - 1)]

    # The outline narrows at the centromere (primary constriction) and rounds off at the telomeres.
    near_centromere = np.exp(-(((y - centromere) / (0.05 * length + 2)) ** 2))
    half_width = width / 2 * (1 - 0.35 * near_centromere)
    overhang = np.clip(half_width - np.minimum(y, length - y), 0, None) / half_width
    half_width = half_width * np.sqrt(np.clip(1 - overhang**2, 0, 1))
    body = np.clip(half_width - np.abs(x), 0, 1)
    # A faint groove between the two sister chromatids, closed at the centromere where they are joined.
    groove_depth = rng.uniform(0.1, 0.35) * (1 - near_centromere)
    body = body * (1 - groove_depth * np.exp(-((x / (0.12 * width)) ** 2)))
    return body * axis_intensity


def _bend_and_rotate(image, rng):
    """Resample onto a square canvas with a curved centreline, a random rotation and random flips.

    The crops of a karyogram stand near upright, p arm on top: the tilt is small and one in ten is upside down.
    """
    height, width = image.shape
    side = int(np.ceil(np.hypot(height, width) + 0.3 * height)) + 4
    # Output pixel -> rotated frame -> unbent source pixel, in one map_coordinates call.
    out_y, out_x = np.mgrid[0:side, 0:side].astype(np.float64) - (side - 1) / 2
    angle = np.deg2rad(np.clip(rng.normal(0, 15), -40, 40))
    cos, sin = np.cos(angle), np.sin(angle)
    y = cos * out_y + sin * out_x
    x = -sin * out_y + cos * out_x
    sagitta = rng.uniform(-0.12, 0.12) * height
    along = 2 * y / height
    x = x - sagitta * (1 - along**2)
    if rng.random() < 0.1:
        y = -y
    if rng.random() < 0.5:
        x = -x
    coordinates = np.stack([y + (height - 1) / 2, x + (width - 1) / 2])
    return ndimage.map_coordinates(image, coordinates, order=1, mode="constant", cval=0.0)


def _lose_resolution(image, rng):
    """Downscale by 0.5..0.8 and back: the real set is camera-limited, its bands are soft."""
    factor = rng.uniform(0.5, 0.8)
    height, width = image.shape
    small = (max(1, round(width * factor)), max(1, round(height * factor)))
    low = Image.fromarray(image.astype(np.float32)).resize(small, Image.Resampling.BILINEAR)
    return np.asarray(low.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float64)


def _crop_to_foreground(image, rng):
    """Tight crop around the chromosome with a 0..3 px margin, like the real set's crops."""
    foreground = image > _FOREGROUND_FRACTION * image.max()
    rows = np.flatnonzero(foreground.any(axis=1))
    cols = np.flatnonzero(foreground.any(axis=0))
    top, bottom, left, right = (int(m) for m in rng.integers(0, 4, 4))
    return image[
        max(0, rows[0] - top) : rows[-1] + 1 + bottom,
        max(0, cols[0] - left) : cols[-1] + 1 + right,
    ]


def render_chromosome(class_index, rng, *, cell_scale=1.0, brightness=1.0):
    """One synthetic Q-band chromosome of class `class_index` (0..23) as a tight uint8 crop, black background.

    Its length follows CLASS_GEOMETRY scaled by `cell_scale` (chromosome 1 is ~90 px at 1.0), its
    centromere sits at the class's centromere index and its bands are the class's; `rng` supplies the
    per-instance bending, rotation, flips, band jitter, blur, resolution loss and noise. `brightness`
    scales the peak fluorescence (1.0 -> ~240).
    """
    if not 0 <= class_index < NUM_CLASSES:
        raise SrasError(f"class index {class_index} is outside 0..{NUM_CLASSES - 1}")
    if cell_scale <= 0 or brightness <= 0:
        raise SrasError(f"cell_scale and brightness must be positive, not {cell_scale} and {brightness}")
    relative_length = CLASS_GEOMETRY[class_index][0]
    length = _LONGEST_LENGTH_PX * relative_length / _LONGEST_RELATIVE_LENGTH * cell_scale
    length *= rng.normal(1.0, 0.06)
    width = _WIDTH_PX * rng.uniform(0.85, 1.15)

    image = _straight_chromosome(class_index, length, width, rng)
    image = _bend_and_rotate(image, rng)
    image = ndimage.gaussian_filter(image, rng.uniform(0.8, 1.6))
    image = _lose_resolution(image, rng) * 240.0 * brightness
    image = _crop_to_foreground(image, rng)
    image = image + rng.normal(0, rng.uniform(0.5, 2.0), image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def generate_cell(rng, sex):
    """The 46 chromosomes of one metaphase cell as (class_index, homolog, image).

    Homologs are 'a'/'b'; a male cell's single X and Y have homolog '' (BioImLab names them without a letter).
    Condensation and staining differ between cells, so one scale and one brightness apply to the whole cell.
    """
    if sex not in SEXES:
        raise SrasError(f"sex must be one of {', '.join(SEXES)}, not {sex!r}")
    cell_scale = rng.uniform(0.75, 1.25)
    cell_brightness = rng.uniform(0.55, 0.85)
    members = [(c, h) for c in range(X_INDEX) for h in "ab"]
    members += [(X_INDEX, "a"), (X_INDEX, "b")] if sex == "female" else [(X_INDEX, ""), (Y_INDEX, "")]
    cell = []
    for class_index, homolog in members:
        brightness = cell_brightness * rng.uniform(0.9, 1.1)
        image = render_chromosome(class_index, rng, cell_scale=cell_scale, brightness=brightness)
        cell.append((class_index, homolog, image))
    return cell


def write_synthetic_dataset(out_dir, n_cells=12, seed=0, male_fraction=0.4, progress=False):
    """Write `n_cells` synthetic cells in the BioImLab layout `<out>/<cell>/<cell> <class><homolog>.bmp`.

    Same seed, byte-identical files. The set is built in a hidden sibling folder and moved into place
    only when complete, so an interrupted run never leaves a half-written data set behind. Returns a
    summary: out_dir, n_cells, n_images, class_counts (by class name) and sexes (by cell id).
    """
    out_dir = Path(out_dir)
    if n_cells < 1:
        raise SrasError(f"n_cells must be at least 1, not {n_cells}")
    if not 0.0 <= male_fraction <= 1.0:
        raise SrasError(f"male_fraction must be within 0..1, not {male_fraction}")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise SrasError(
            f"{display_path(out_dir)} already exists and is not an empty folder; choose a new output folder"
        )
    target = Path(os.path.abspath(out_dir))  # '.' has no name to build a sibling of
    if target == Path.cwd() or target in Path.cwd().parents or not target.name:
        # the finished set replaces OUT: the shell would be left in a deleted folder
        raise SrasError(f"{display_path(out_dir)}: is the current folder; name a new folder, e.g. karyotypes")

    sex_seed, *cell_seeds = np.random.SeedSequence(seed).spawn(n_cells + 1)
    n_male = round(n_cells * male_fraction)
    sexes = np.random.default_rng(sex_seed).permutation(["male"] * n_male + ["female"] * (n_cells - n_male))

    staging = make_folder(target.parent) / f".{target.name}.partial-{secrets.token_hex(4)}"
    try:
        staging.mkdir()
    except OSError as error:
        raise cannot_write(target.parent, error) from None
    class_counts = dict.fromkeys(CLASS_NAMES, 0)
    try:
        cells = range(1, n_cells + 1)
        if progress:
            cells = progress_bar(cells, desc="synthetic cells", unit="cell")
        for cell_id in cells:
            cell_dir = staging / str(cell_id)
            cell_dir.mkdir()
            rng = np.random.default_rng(cell_seeds[cell_id - 1])
            for class_index, homolog, image in generate_cell(rng, str(sexes[cell_id - 1])):
                name = f"{cell_id} {class_index + 1}{homolog}.bmp"
                Image.fromarray(image).save(cell_dir / name)
                class_counts[CLASS_NAMES[class_index]] += 1
        os.replace(staging, target)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise cannot_write(out_dir, error) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {
        "out_dir": str(out_dir),
        "n_cells": n_cells,
        "n_images": sum(class_counts.values()),
        "class_counts": class_counts,
        "sexes": {cell_id: str(sex) for cell_id, sex in enumerate(sexes, start=1)},
    }
