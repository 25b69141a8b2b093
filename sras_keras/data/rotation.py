"""Rotated training copies: SRAS-net rotates every training chromosome 24 times by 15 degrees."""

from __future__ import annotations

import numpy as np
from PIL import Image


def rotation_angles(count: int) -> list[float]:
    """``count`` angles evenly spaced over a full turn, starting at 0 (the original)."""
    if count < 1:
        raise ValueError(f"rotations must be >= 1, got {count}")
    return [round(i * 360.0 / count, 6) for i in range(count)]


def rotate_expanded(image: np.ndarray, angle: float, background: int) -> np.ndarray:
    """Rotate counter-clockwise by ``angle`` degrees on a canvas grown to fit, so no pixel is clipped."""
    if angle == 0:
        return image
    rotated = Image.fromarray(image).rotate(angle, resample=Image.BILINEAR, expand=True, fillcolor=int(background))
    return np.asarray(rotated)
