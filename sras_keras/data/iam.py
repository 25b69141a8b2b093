"""Fitting a chromosome crop onto a fixed square canvas: SRAS-net's IAM and the two-step study's resize.

Both are written in TensorFlow ops on one (H, W) or (H, W, 1) uint8 image, so the same function runs eagerly on
a NumPy array, inside ``tf.data`` and inside an exported graph. Backgrounds are given as a pixel value (0 for
BioImLab's black, 255 for G-band's white); foreground is any pixel further than ``threshold`` from it.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from sras_keras.configs.convert import PLACEMENTS, PREPROCESSORS
from sras_keras.core.errors import SrasError

DEFAULT_THRESHOLD = 20  # BioImLab's background noise reaches 8; 20 keeps faint band ends.


def background_of(image: np.ndarray) -> int:
    """0 for a dark-background image, 255 for a light one, by the median of its border pixels."""
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    return 255 if np.median(border) > 127 else 0


def foreground_mask(image: np.ndarray, background: int, threshold: int = DEFAULT_THRESHOLD) -> np.ndarray:
    """Pixels further than ``threshold`` from the background grey level."""
    return np.abs(np.asarray(image, np.int16) - background) > threshold


def has_foreground(image: np.ndarray, background: int, threshold: int = DEFAULT_THRESHOLD) -> bool:
    return bool(foreground_mask(image, background, threshold).any())


def _as_hw1(image) -> tf.Tensor:
    image = tf.convert_to_tensor(image)
    if image.shape.rank == 2:
        image = tf.expand_dims(image, -1)
    return image


# The functions below avoid tf.cond, [a:b] indexing of uint8 and tf.ensure_shape: TFLite has no builtin kernel
# for those, and an exported model (``sras export``) carries this preprocessing inside its graph.


def crop_to_foreground(image, background: int, threshold: int = DEFAULT_THRESHOLD) -> tf.Tensor:
    """Crop to the bounding box of the foreground (Algorithm 1, lines 6-22); an empty mask keeps the image.

    Returns (h, w, 1) uint8.
    """
    image = _as_hw1(image)
    shape = tf.shape(image)
    mask = tf.abs(tf.cast(image[..., 0], tf.int32) - background) > threshold
    rows = tf.cast(tf.reshape(tf.where(tf.reduce_any(mask, axis=1)), [-1]), tf.int32)
    cols = tf.cast(tf.reshape(tf.where(tf.reduce_any(mask, axis=0)), [-1]), tf.int32)
    found = tf.size(rows) > 0
    top = tf.where(found, tf.reduce_min(rows), 0)
    bottom = tf.where(found, tf.reduce_max(rows), shape[0] - 1)
    left = tf.where(found, tf.reduce_min(cols), 0)
    right = tf.where(found, tf.reduce_max(cols), shape[1] - 1)
    return tf.slice(image, tf.stack([top, left, 0]), tf.stack([bottom - top + 1, right - left + 1, 1]))


def _resampling_matrix(in_size, out_size) -> tf.Tensor:
    """(out_size, in_size) weights of antialiased bilinear resampling, as ``tf.image.resize(antialias=True)``
    computes them: a triangle kernel widened by the shrink factor, renormalised at the borders."""
    in_size, out_size = tf.cast(in_size, tf.float32), tf.cast(out_size, tf.float32)
    scale = out_size / in_size
    width = tf.maximum(1.0 / scale, 1.0)
    centres = (tf.range(out_size) + 0.5) / scale
    weights = tf.nn.relu(1.0 - tf.abs(tf.range(in_size)[tf.newaxis, :] + 0.5 - centres[:, tf.newaxis]) / width)
    return weights / tf.reduce_sum(weights, axis=1, keepdims=True)


def _resize(image: tf.Tensor, height, width) -> tf.Tensor:
    """Antialiased bilinear resize of (h, w, 1) as two matrix products: the same numbers as ``tf.image.resize``,
    but made of ops every runtime has (TFLite lacks its ScaleAndTranslate kernel), so exports keep IAM inside."""
    shape = tf.shape(image)
    rows = _resampling_matrix(shape[0], height)
    cols = _resampling_matrix(shape[1], width)
    resized = tf.matmul(tf.matmul(rows, tf.cast(image[..., 0], tf.float32)), cols, transpose_b=True)
    return tf.expand_dims(tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8), -1)


def _pad_to(image: tf.Tensor, size: int, background: int, placement: str) -> tf.Tensor:
    shape = tf.shape(image)
    extra_h, extra_w = size - shape[0], size - shape[1]
    if placement == "top_left":
        top, left = 0, 0
    elif placement == "center":
        top, left = extra_h // 2, extra_w // 2
    else:
        raise SrasError(f"unknown placement {placement!r}; choose one of {', '.join(PLACEMENTS)}")
    # padded as float32 (exact for uint8 values): TFLite's pad kernel has no uint8 version
    padded = tf.pad(
        tf.cast(image, tf.float32),
        [[top, extra_h - top], [left, extra_w - left], [0, 0]],
        constant_values=float(background),
    )
    return tf.reshape(tf.cast(padded, image.dtype), [size, size, 1])


def fit_to_canvas(
    image, size: int = 224, background: int = 0, threshold: int = DEFAULT_THRESHOLD, magnify: float = 1.0
) -> tf.Tensor:
    """IAM's first half: crop to the foreground and shrink only when the long side exceeds ``size``.

    The aspect ratio is kept and, at ``magnify`` 1 (the paper), nothing is ever upscaled. ``magnify`` > 1 first
    enlarges every crop by that factor (still capped to fit): on a small CPU canvas it gives short chromosomes more
    pixels while keeping their relative sizes, the job SRAFBN's x2 does at 224 px. Returns (h, w, 1) uint8 with
    h, w <= ``size``: this is what a converted dataset stores, so the pipeline decodes a small crop and only pads it
    (``place_on_canvas``).
    """
    crop = crop_to_foreground(image, background, threshold)
    shape = tf.shape(crop)
    height, width = shape[0], shape[1]
    # float32: TFLite has no float64
    scale = tf.minimum(float(magnify), size / tf.cast(tf.maximum(height, width), tf.float32))
    new_h = tf.maximum(1, tf.cast(tf.round(tf.cast(height, tf.float32) * scale), tf.int32))
    new_w = tf.maximum(1, tf.cast(tf.round(tf.cast(width, tf.float32) * scale), tf.int32))
    return _resize(crop, tf.minimum(new_h, size), tf.minimum(new_w, size))  # at scale 1 an exact identity


def place_on_canvas(fitted, size: int = 224, background: int = 0, placement: str = "top_left") -> tf.Tensor:
    """IAM's second half: the paper's X U O_224x224, a ``size`` x ``size`` canvas of the background value with the
    crop at its top-left corner (or centred). Returns (size, size, 1) uint8."""
    return _pad_to(_as_hw1(fitted), size, background, placement)


def center_batch(top_left: tf.Tensor, heights, widths, background: int = 0) -> tf.Tensor:
    """Move each image of a (B, S, S, 1) batch of top-left-placed crops of ``heights`` x ``widths`` to the middle
    of its canvas, in a few vectorised ops (the batch comes from ``padded_batch``, which places at top-left)."""
    size = top_left.shape[1]
    positions = tf.range(size)[tf.newaxis, :]

    def shift(tensor, lengths, axis):
        source = positions - ((size - tf.cast(lengths, tf.int32)) // 2)[:, tf.newaxis]  # (B, S): line sources
        moved = tf.gather(tensor, tf.clip_by_value(source, 0, size - 1), axis=axis, batch_dims=1)
        inside = (
            (source >= 0)[:, :, tf.newaxis, tf.newaxis] if axis == 1 else (source >= 0)[:, tf.newaxis, :, tf.newaxis]
        )
        return tf.where(inside, moved, tf.cast(background, tensor.dtype))

    return shift(shift(top_left, heights, 1), widths, 2)


def iam(
    image,
    size: int = 224,
    background: int = 0,
    threshold: int = DEFAULT_THRESHOLD,
    placement: str = "top_left",
    magnify: float = 1.0,
) -> tf.Tensor:
    """SRAS-net's image adaptive module (section 3.3, Algorithm 1): crop, shrink only if too big, pad
    (``magnify``: see ``fit_to_canvas``).

    Returns (size, size, 1) uint8.
    """
    return place_on_canvas(fit_to_canvas(image, size, background, threshold, magnify), size, background, placement)


def square_resize(image, size: int = 256, background: int = 0, threshold: int = DEFAULT_THRESHOLD) -> tf.Tensor:
    """The two-step study's preprocessing: crop, pad to a centred square with background, bilinear resize.

    Unlike IAM this enlarges small chromosomes. Returns (size, size, 1) uint8.
    """
    crop = crop_to_foreground(image, background, threshold)
    shape = tf.shape(crop)
    side = tf.maximum(shape[0], shape[1])
    extra_h, extra_w = side - shape[0], side - shape[1]
    square = tf.pad(  # float32: see _pad_to
        tf.cast(crop, tf.float32),
        [[extra_h // 2, extra_h - extra_h // 2], [extra_w // 2, extra_w - extra_w // 2], [0, 0]],
        constant_values=float(background),
    )
    return tf.reshape(_resize(square, size, size), [size, size, 1])


def stretch(image, size: int = 224, background: int = 0, threshold: int = DEFAULT_THRESHOLD) -> tf.Tensor:
    """The "simple resize" IAM replaces (SRAS-net Table 3's rows without IAM): crop, then scale both sides to
    ``size``, distorting the chromosome's proportions. Returns (size, size, 1) uint8."""
    crop = crop_to_foreground(image, background, threshold)
    return tf.reshape(_resize(crop, size, size), [size, size, 1])


def final_image(
    name: str,
    size: int,
    background: int,
    threshold: int = DEFAULT_THRESHOLD,
    placement="top_left",
    magnify: float = 1.0,
):
    """The named preprocessing as a function of one (H, W[, 1]) uint8 image -> (size, size, 1) uint8
    (``magnify``: IAM only)."""
    if magnify != 1.0 and name != "iam":
        raise SrasError(f"magnify applies to IAM only, not to {name!r} (which fills the canvas anyway)")
    if name == "iam":
        return lambda image: iam(image, size, background, threshold, placement, magnify)
    if name == "square_resize":
        return lambda image: square_resize(image, size, background, threshold)
    if name == "stretch":
        return lambda image: stretch(image, size, background, threshold)
    raise SrasError(f"unknown preprocessing {name!r}; choose one of {', '.join(PREPROCESSORS)}")
