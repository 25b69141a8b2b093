import numpy as np
import pytest
import tensorflow as tf

from sras_keras.evaluation.image_quality import psnr, shave, ssim


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    clean = rng.uniform(0, 1, (40, 30)).astype(np.float32)
    noisy = np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1).astype(np.float32)
    return clean, noisy


def test_psnr_matches_tf_image(pair):
    clean, noisy = pair
    expected = float(tf.image.psnr(clean[..., None], noisy[..., None], max_val=1.0))
    assert psnr(clean, noisy) == pytest.approx(expected, abs=1e-3)
    assert psnr(clean, clean) == float("inf")
    assert psnr(clean * 255, noisy * 255, data_range=255) == pytest.approx(expected, abs=1e-3)


def test_ssim_matches_tf_image(pair):
    clean, noisy = pair
    expected = float(tf.image.ssim(clean[..., None], noisy[..., None], max_val=1.0))
    assert ssim(clean, noisy) == pytest.approx(expected, abs=1e-5)
    assert ssim(clean, clean) == pytest.approx(1.0, abs=1e-6)


def test_masked_metrics_look_only_at_the_mask(pair):
    clean, _ = pair
    damaged = clean.copy()
    damaged[:, 15:] = 0  # ruin the right half only
    left = np.zeros(clean.shape, bool)
    left[:, :15] = True
    assert psnr(clean, damaged, mask=left) == float("inf")
    assert psnr(clean, damaged) < 20
    assert ssim(clean, damaged, mask=left) > ssim(clean, damaged)


def test_shave():
    assert shave(np.zeros((10, 12)), 2).shape == (6, 8)
    assert shave(np.zeros((10, 12)), 0).shape == (10, 12)
