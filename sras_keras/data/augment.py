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
