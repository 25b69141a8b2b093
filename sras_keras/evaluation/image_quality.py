"""PSNR and SSIM of single-channel images, over the whole image or only the chromosome (a mask).

SSIM follows ``tf.image.ssim`` exactly (11 x 11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03, 'valid'
filtering): its mean over the whole map equals ``tf.image.ssim``; the foreground variant averages the map
over the mask instead, because a large flat background inflates both metrics.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

SSIM_WINDOW = 11


def shave(image: np.ndarray, border: int) -> np.ndarray:
    return image[border:-border, border:-border] if border else image


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 1.0, mask: np.ndarray | None = None) -> float:
    """PSNR in dB of two (H, W) arrays; over ``mask`` only when given. Identical inputs give +inf."""
    error = np.square(a.astype(np.float64) - b.astype(np.float64))
    mse = error[mask].mean() if mask is not None else error.mean()
    return float("inf") if mse == 0 else float(10 * np.log10(data_range**2 / mse))


def _gaussian_kernel(size: int = SSIM_WINDOW, sigma: float = 1.5) -> tf.Tensor:
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(coords**2) / (2 * sigma**2))
    g /= g.sum()
    return tf.constant(np.outer(g, g)[:, :, None, None], tf.float32)


def ssim_map(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """The SSIM map of two (H, W) arrays, (H - 10, W - 10); both sides must be at least 11."""
    if min(a.shape) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW} px a side, got {a.shape}")
    kernel = _gaussian_kernel()
    x = tf.constant(a, tf.float32)[None, :, :, None]
    y = tf.constant(b, tf.float32)[None, :, :, None]

    def blur(t):
        return tf.nn.conv2d(t, kernel, strides=1, padding="VALID")

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    luminance = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    structure = (2 * cov + c2) / (var_x + var_y + c2)
    return (luminance * structure).numpy()[0, :, :, 0]


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 1.0, mask: np.ndarray | None = None) -> float:
    """Mean SSIM; with ``mask`` (same shape as the images) over the map positions whose window centre it covers."""
    values = ssim_map(a, b, data_range)
    if mask is None:
        return float(values.mean())
    half = SSIM_WINDOW // 2
    inner = mask[half:-half, half:-half]
    return float(values[inner].mean()) if inner.any() else float("nan")
