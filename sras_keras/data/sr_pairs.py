"""Training and evaluation data for super-resolution when no HR/LR pairs exist.

HR = the native chromosome images of the classifier's training cells (read from the source tree through a
converted dataset's ``splits.json``, so SR never sees a validation or test cell); LR = antialiased bicubic
downscaling of HR. Training draws random aligned patches that keep a minimum foreground fraction, with flips
and 90 degree rotations; evaluation uses whole held-out images.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import tensorflow as tf

from sras_keras.configs.records import SplitImage
from sras_keras.core.errors import SrasError
from sras_keras.data.iam import crop_to_foreground, foreground_mask
from sras_keras.data.pipeline import load_manifest, load_splits
from sras_keras.data.readers import read_source


def load_hr_images(
    data_dir: str | Path, parts: list[str], margin: int = 4
) -> tuple[list[np.ndarray], list[SplitImage], int]:
    """Native-resolution images of ``parts``, cropped to the foreground plus ``margin`` pixels of background.

    Returns (images as (H, W) uint8, their splits.json entries, background value), SMOTE's images left out. The
    source files must be the ones that were converted (same md5), or the split would no longer mean what it says.
    """
    data_dir = Path(data_dir)
    manifest = load_manifest(data_dir)
    root = Path(manifest.source.root)
    if not root.is_dir():
        raise SrasError(f"{data_dir}: its source folder {root} is not there; SR training reads the native images")
    background = manifest.background_value
    threshold = manifest.config.threshold
    # SMOTE's images (a --smote conversion) have no source file and are not native resolution: SR skips them
    entries = [entry for entry in load_splits(data_dir).images if entry.part in parts and not entry.synthetic]
    if not entries:
        raise SrasError(f"{data_dir}: no images in part(s) {', '.join(parts)}")
    images = []
    for entry in entries:
        array, md5 = read_source(root / entry.path, manifest.config.invert)
        if md5 != entry.md5:
            raise SrasError(f"{root / entry.path}: differs from the converted file (md5); convert again")
        crop = crop_to_foreground(array, background, threshold).numpy()[..., 0]
        images.append(np.pad(crop, margin, constant_values=background))
    return images, entries, background


def downscale(hr: tf.Tensor, scale: int) -> tf.Tensor:
    """LR from HR: antialiased bicubic, the usual 'BI' degradation. HR sides must be multiples of ``scale``."""
    shape = tf.shape(hr)
    size = tf.stack([shape[-3] // scale, shape[-2] // scale])
    return tf.image.resize(hr, size, method="bicubic", antialias=True)


def crop_to_multiple(image: np.ndarray, scale: int) -> np.ndarray:
    height, width = (image.shape[0] // scale) * scale, (image.shape[1] // scale) * scale
    return image[:height, :width]


class PatchSampler:
    """Random aligned HR patches with at least ``min_foreground`` of chromosome pixels, augmented by the eight
    flips/rotations (orientation carries no meaning for SR). Images smaller than the patch are padded with
    background first, so short chromosomes still contribute."""

    def __init__(self, images, background: int, patch: int, min_foreground: float = 0.1, seed: int = 0):
        if patch < 4:
            raise SrasError(f"--patch-size must be at least 4, got {patch}")
        self.background = background
        self.patch = patch
        self.min_foreground = min_foreground
        self.seed = seed
        self.padded = sum(min(image.shape) < patch for image in images)
        self.images = [self._pad_to_patch(image) for image in images]
        self.masks = [foreground_mask(image, background) for image in self.images]
        usable = [i for i, mask in enumerate(self.masks) if mask.mean() > 0]
        if not usable:
            raise SrasError("no training image has any foreground: nothing to learn super-resolution from")
        self.usable = usable

    def _pad_to_patch(self, image: np.ndarray) -> np.ndarray:
        extra_h, extra_w = max(0, self.patch - image.shape[0]), max(0, self.patch - image.shape[1])
        if not (extra_h or extra_w):
            return image
        return np.pad(
            image,
            ((extra_h // 2, extra_h - extra_h // 2), (extra_w // 2, extra_w - extra_w // 2)),
            constant_values=self.background,
        )

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """One (patch, patch, 1) float32 HR patch in [0, 1], drawn with ``rng``."""
        for attempt in range(20):
            index = self.usable[rng.integers(len(self.usable))]
            image, mask = self.images[index], self.masks[index]
            top = rng.integers(image.shape[0] - self.patch + 1)
            left = rng.integers(image.shape[1] - self.patch + 1)
            window = np.s_[top : top + self.patch, left : left + self.patch]
            if mask[window].mean() >= self.min_foreground or attempt == 19:
                patch = image[window]
                break
        patch = np.rot90(patch, rng.integers(4))
        if rng.integers(2):
            patch = patch[:, ::-1]
        return (patch.astype(np.float32) / 255.0)[..., np.newaxis]

    def dataset(self, batch_size: int, scale: int, steps_per_epoch: int, first_epoch: int = 0) -> tf.data.Dataset:
        """An endless dataset of (LR, HR) batches, epoch after epoch from ``first_epoch``. Epoch k's patches come
        from a stream seeded by (seed, k) alone, so a run resumed at epoch k draws what the uninterrupted run drew
        (one stream for the whole run would leave its position at a kill unknown: prefetching draws ahead)."""
        if self.patch % scale:
            raise SrasError(f"--patch-size {self.patch} must be a multiple of the scale {scale}")

        def endless():
            for epoch in itertools.count(first_epoch):
                rng = np.random.default_rng([self.seed, epoch])
                for _ in range(steps_per_epoch * batch_size):
                    yield self.sample(rng)

        patches = tf.data.Dataset.from_generator(
            endless, output_signature=tf.TensorSpec([self.patch, self.patch, 1], tf.float32)
        )
        return patches.batch(batch_size).map(lambda hr: (downscale(hr, scale), hr)).prefetch(2)
