"""Domain similarity for the two-step study's Table 1: embed every image of each domain with one backbone (its
global-average-pooled last feature map, the layer before the head), then MMD^2 and CORAL between domains.

Chromosome sets are read from their source trees and preprocessed as the study does (crop, pad to a square,
bilinear resize); a natural-image domain is any folder of pictures (the study: ImageNette2), centre-cropped and
resized. The embedding weights are part of every result: MMD on random-weight features measures low-level
image statistics, not what ImageNet features see.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import Image
from sklearn.datasets import load_sample_images

from sras_keras.core.errors import SrasError
from sras_keras.data.iam import background_of, square_resize
from sras_keras.data.readers import read_image, scan_source
from sras_keras.evaluation.statistics import coral_distance, mmd_test
from sras_keras.models import build_backbone, get_backbone

NATURAL_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


def chromosome_images(root, size: int, max_images: int = 0, seed: int = 0, cell_regex: str | None = None) -> np.ndarray:
    """(N, size, size, 3) float32 in [0, 255]: a chromosome source tree, square-resized, gray replicated to RGB.
    ``max_images`` > 0 takes a seeded random subset."""
    _, images = scan_source(root, cell_regex=cell_regex)
    if max_images:
        keep = np.sort(np.random.default_rng(seed).permutation(len(images))[:max_images])
        images = [images[i] for i in keep]
    fitted = []
    for image in images:
        pixels, _ = read_image(Path(root) / image.path)
        fitted.append(square_resize(pixels, size, background_of(pixels)).numpy())
    return np.repeat(np.stack(fitted).astype(np.float32), 3, axis=-1)  # scan_source refuses an empty tree


def natural_images(folder, size: int, max_images: int = 0, seed: int = 0) -> np.ndarray:
    """(N, size, size, 3) float32 in [0, 255]: the pictures in ``folder`` (recursively), centre-cropped to a square
    and resized; with no folder, scikit-learn's two sample photographs cut into random crops (a small stand-in)."""
    if folder:
        files = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in NATURAL_EXTENSIONS)
        if not files:
            raise SrasError(f"{folder}: no images ({', '.join(NATURAL_EXTENSIONS)}) for the natural-image domain")
        if max_images:
            files = [files[i] for i in np.sort(np.random.default_rng(seed).permutation(len(files))[:max_images])]
        pictures = []
        for file in files:
            try:
                with Image.open(file) as opened:
                    pictures.append(_centre_square(opened.convert("RGB"), size))
            except OSError as error:
                raise SrasError(f"{file}: unreadable natural image ({error})") from None
        return np.stack(pictures).astype(np.float32)
    rng = np.random.default_rng(seed)
    photos = load_sample_images().images
    crops = []
    for index in range(max_images or 200):
        photo = photos[index % len(photos)]
        side = int(rng.integers(min(photo.shape[:2]) // 4, min(photo.shape[:2])))
        top, left = rng.integers(0, photo.shape[0] - side + 1), rng.integers(0, photo.shape[1] - side + 1)
        crops.append(
            np.asarray(
                Image.fromarray(photo[top : top + side, left : left + side]).resize((size, size), Image.BILINEAR)
            )
        )
    return np.stack(crops).astype(np.float32)


def _centre_square(picture, size: int) -> np.ndarray:
    side = min(picture.size)
    left, top = (picture.width - side) // 2, (picture.height - side) // 2
    return np.asarray(picture.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR))


def embedder(backbone: str, image_size: int, weights, seed: int = 0):
    """``images -> (N, D)`` pooled features of one ``backbone`` instance (its own preprocessing) on RGB images in
    [0, 255]. One instance embeds every domain: with random weights, two builds would be two different maps."""
    spec = get_backbone(backbone)
    keras.utils.set_random_seed(seed)
    pooled = keras.Sequential([build_backbone(backbone, image_size, weights), keras.layers.GlobalAveragePooling2D()])
    # one traced graph for every batch (eager calls retraced Keras' convolutions batch after batch)
    forward = tf.function(lambda batch: pooled(spec.preprocess(batch), training=False), reduce_retracing=True)

    def embed(images: np.ndarray, batch_size: int = 32) -> np.ndarray:
        features = [
            np.asarray(forward(tf.constant(images[start : start + batch_size], tf.float32)))
            for start in range(0, len(images), batch_size)
        ]
        return np.concatenate(features).astype(np.float64)

    return embed


def domain_table(embeddings: dict[str, np.ndarray], bootstraps: int, permutations: int, seed: int) -> list[dict]:
    """MMD^2 (bootstrap CI, permutation p) and CORAL for every pair of domains, in the order given."""
    rows = []
    for (name_a, a), (name_b, b) in itertools.combinations(embeddings.items(), 2):
        result = mmd_test(a, b, bootstraps=bootstraps, permutations=permutations, seed=seed)
        rows.append({"pair": f"{name_a} vs {name_b}", **result.to_dict(), "coral": coral_distance(a, b)})
    return rows
