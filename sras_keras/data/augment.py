"""Batch augmentations that run inside tf.data, on training batches only."""

from __future__ import annotations

import math

import tensorflow as tf

MIN_SIGMA = 0.1


def random_gaussian_blur(images: tf.Tensor, max_sigma: float, seed, probability: float = 0.5) -> tf.Tensor:
    """Blur each image of a (B, H, W, 1) float batch with probability ``probability``, by a Gaussian of a sigma
    drawn uniformly from [0.1, ``max_sigma``] (torchvision's ``GaussianBlur``, as the two-step study augments).

    One separable depthwise convolution blurs the whole batch, each image with its own kernel (images as channels);
    borders are mirrored so a white G-band background stays white. ``seed``: a stateless seed, shape (2,)."""
    radius = max(1, math.ceil(2 * max_sigma))
    count = tf.shape(images)[0]
    sigma_seed, coin_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    sigma = tf.random.stateless_uniform([count], sigma_seed, MIN_SIGMA, max(max_sigma, MIN_SIGMA))
    blurred = tf.random.stateless_uniform([count], coin_seed) < probability
    offsets = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernels = tf.exp(-tf.square(offsets)[tf.newaxis, :] / (2 * tf.square(sigma)[:, tf.newaxis]))
    kernels = kernels / tf.reduce_sum(kernels, axis=1, keepdims=True)
    identity = tf.one_hot(radius, 2 * radius + 1)[tf.newaxis, :]
    kernels = tf.transpose(tf.where(blurred[:, tf.newaxis], kernels, identity))  # (K, B)
    size = 2 * radius + 1
    channels = tf.transpose(images, [3, 1, 2, 0])  # (1, H, W, B)
    channels = tf.pad(channels, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="SYMMETRIC")
    channels = tf.nn.depthwise_conv2d(channels, tf.reshape(kernels, [size, 1, count, 1]), [1, 1, 1, 1], "VALID")
    channels = tf.nn.depthwise_conv2d(channels, tf.reshape(kernels, [1, size, count, 1]), [1, 1, 1, 1], "VALID")
    return tf.transpose(channels, [3, 1, 2, 0])


def random_contrast(images: tf.Tensor, max_change: float, background: float, seed) -> tf.Tensor:
    """Scale each image's distance from the background grey level by a factor drawn log-uniformly from
    [1 / (1 + ``max_change``), 1 + ``max_change``]: the background stays put, the chromosome brightens or fades.

    BioImLab's cells differ this much: the 95th percentile of their chromosomes' grey levels ranges 96-185 over the
    119 cells, so a classifier should not learn one cell's exposure. ``seed``: a stateless seed, shape (2,)."""
    bound = math.log1p(max_change)
    log_factor = tf.random.stateless_uniform([tf.shape(images)[0], 1, 1, 1], seed, -bound, bound)
    return tf.clip_by_value(background + (images - background) * tf.exp(log_factor), 0.0, 255.0)


def random_zoom(images: tf.Tensor, max_change: float, background: float, seed, centred: bool = False) -> tf.Tensor:
    """Zoom each image of a (B, H, W, 1) canvas batch by a factor drawn log-uniformly from
    [1 / (1 + ``max_change``), 1 + ``max_change``], about the canvas's anchor (its top-left corner, or its centre
    when IAM centres the crops), filling with the background; content zoomed past the canvas edge is cut.

    A chromosome's absolute size depends on its cell's condensation (BioImLab's cells' median chromosome area ranges
    350-930 px over the 24 held-out cells), so a classifier should not learn one cell's scale.
    ``seed``: a stateless seed, shape (2,)."""
    bound = math.log1p(max_change)
    count = tf.shape(images)[0]
    inverse = tf.exp(-tf.random.stateless_uniform([count], seed, -bound, bound))  # output pixel -> input pixel
    height, width = tf.cast(tf.shape(images)[1], tf.float32), tf.cast(tf.shape(images)[2], tf.float32)
    # About the anchor a: input = a + (output - a) / factor, in the transform's pixel-index coordinates
    anchor_x, anchor_y = ((width - 1) / 2, (height - 1) / 2) if centred else (0.0, 0.0)
    zeros = tf.zeros_like(inverse)
    transforms = tf.stack(
        [inverse, zeros, anchor_x * (1 - inverse), zeros, inverse, anchor_y * (1 - inverse), zeros, zeros], axis=1
    )
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.shape(images)[1:3],
        fill_value=background,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
