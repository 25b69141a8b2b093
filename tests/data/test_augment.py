import numpy as np
import tensorflow as tf

from sras_keras.data.augment import random_contrast, random_gaussian_blur, random_zoom


def test_blur_keeps_flat_images_and_mass_and_blurs_about_half():
    rng = np.random.default_rng(0)
    images = np.full((64, 20, 20, 1), 255.0, np.float32)  # white background, as G-band
    images[:, 8:12, 8:12] = rng.uniform(0, 100, (64, 4, 4, 1))
    out = random_gaussian_blur(tf.constant(images), 1.5, tf.constant([3, 4], tf.int64)).numpy()
    assert out.shape == images.shape
    assert np.allclose(out[:, :3, :3], 255.0)  # mirrored borders: the background is not darkened
    changed = np.abs(out - images).max(axis=(1, 2, 3)) > 1e-3
    assert 16 < changed.sum() < 48  # about half of the batch blurred
    assert np.allclose(out[~changed], images[~changed])
    assert np.allclose(out.sum(axis=(1, 2, 3)), images.sum(axis=(1, 2, 3)), rtol=1e-3)  # blurring moves, keeps mass


def test_blur_is_seeded():
    images = tf.random.stateless_uniform([8, 12, 12, 1], [0, 0], 0, 255)
    first = random_gaussian_blur(images, 2.0, tf.constant([1, 2], tf.int64)).numpy()
    again = random_gaussian_blur(images, 2.0, tf.constant([1, 2], tf.int64)).numpy()
    other = random_gaussian_blur(images, 2.0, tf.constant([5, 6], tf.int64)).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_contrast_keeps_the_background_and_scales_within_bounds():
    for background in (0.0, 255.0):
        images = np.full((256, 6, 6, 1), background, np.float32)
        images[:, 2:4, 2:4] = 100.0  # 100 grey levels from black, 155 from white
        out = random_contrast(tf.constant(images), 0.4, background, tf.constant([7, 8], tf.int64)).numpy()
        assert np.array_equal(out[:, :2], images[:, :2])  # the background does not move
        factor = (out[:, 2, 2, 0] - background) / (100.0 - background)
        assert factor.min() >= 1 / 1.4 - 1e-5 and factor.max() <= 1.4 + 1e-5
        assert (factor < 0.9).sum() > 50 and (factor > 1.1).sum() > 50  # both ways, spread over the range
        assert np.allclose(out[:, 2:4, 2:4], out[:, 2:3, 2:3])  # one factor per image
    again = random_contrast(tf.constant(images), 0.4, 255.0, tf.constant([7, 8], tf.int64)).numpy()
    np.testing.assert_array_equal(out, again)


def _extent(image, background):
    rows, cols = np.nonzero(np.abs(image[..., 0] - background) > 50)
    return rows.min(), rows.max(), cols.min(), cols.max()


def test_zoom_about_the_anchor_within_bounds_and_keeps_the_background():
    for background, centred in ((0.0, False), (255.0, True)):
        images = np.full((128, 41, 41, 1), background, np.float32)
        if centred:
            images[:, 10:31, 15:26] = 120.0  # a 21 x 11 chromosome about the canvas centre (20, 20)
        else:
            images[:, :21, :11] = 120.0  # top-left placement, as BioImLab's IAM canvases
        out = random_zoom(tf.constant(images), 0.3, background, tf.constant([5, 6], tf.int64), centred).numpy()
        heights = []
        for image in out:
            top, bottom, left, right = _extent(image, background)
            heights.append(bottom - top + 1)
            if centred:
                assert abs((top + bottom) / 2 - 20) <= 0.5 and abs((left + right) / 2 - 20) <= 0.5
            else:
                assert top == 0 and left == 0  # the anchor stays put
        assert np.array_equal(out[:, -1, :], images[:, -1, :])  # the far edge stays background
        heights = np.array(heights)
        assert heights.min() >= 21 / 1.3 - 1.5 and heights.max() <= 21 * 1.3 + 1.5
        assert (heights < 19).sum() > 20 and (heights > 23).sum() > 20  # both ways, spread over the range
    again = random_zoom(tf.constant(images), 0.3, 255.0, tf.constant([5, 6], tf.int64), True).numpy()
    np.testing.assert_array_equal(out, again)
