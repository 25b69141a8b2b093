import numpy as np
import pytest
import tensorflow as tf

from sras_keras.data.iam import background_of, crop_to_foreground, iam, square_resize
from sras_keras.data.rotation import rotate_expanded, rotation_angles


def canvas_with_block(shape, block, top_left, background=0, value=200):
    image = np.full(shape, background, dtype=np.uint8)
    r, c = top_left
    image[r : r + block[0], c : c + block[1]] = value
    return image


def test_crop_finds_the_bounding_box_and_ignores_faint_noise():
    image = canvas_with_block((100, 200), (30, 12), (40, 90))
    image[0, 0] = 8  # background noise below the threshold
    crop = crop_to_foreground(image, background=0).numpy()
    assert crop.shape == (30, 12, 1)
    assert np.all(crop == 200)


def test_iam_never_upscales_and_places_top_left():
    image = canvas_with_block((200, 100), (30, 12), (80, 40))
    out = iam(image, size=64).numpy()[..., 0]
    assert out.shape == (64, 64)
    np.testing.assert_array_equal(out[:30, :12], 200)
    assert out[30:].max() == 0 and out[:, 12:].max() == 0


def test_iam_center_placement():
    out = iam(canvas_with_block((20, 20), (10, 4), (5, 5)), size=32, placement="center").numpy()[..., 0]
    rows, cols = np.nonzero(out)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (11, 20, 14, 17)


def test_iam_shrinks_long_side_to_size_and_keeps_aspect():
    image = canvas_with_block((300, 300), (200, 50), (10, 10))
    out = iam(image, size=100).numpy()[..., 0]
    rows, cols = np.nonzero(out > 100)
    assert rows.max() + 1 == 100  # long side exactly the target
    assert cols.max() + 1 == 25  # 50 * 100 / 200


def test_white_background_is_detected_and_used_as_fill():
    image = canvas_with_block((40, 30), (20, 6), (5, 5), background=255, value=60)
    assert background_of(image) == 255
    out = iam(image, size=48, background=255).numpy()[..., 0]
    np.testing.assert_array_equal(out[:20, :6], 60)
    assert out[20:].min() == 255 and out[:, 6:].min() == 255


def test_square_resize_pads_centred_and_enlarges():
    image = canvas_with_block((50, 50), (20, 10), (0, 0))
    out = square_resize(image, size=64).numpy()[..., 0]
    assert out.shape == (64, 64)
    cols = np.nonzero(out.max(axis=0) > 100)[0]
    assert out.max(axis=1).min() > 100  # the long side fills the height after the upscale
    assert abs((cols.min() + cols.max()) / 2 - 31.5) <= 1  # centred horizontally
    assert 28 <= cols.max() - cols.min() + 1 <= 36  # 10 / 20 * 64 = 32


def test_same_result_in_tf_data_and_eagerly():
    images = [canvas_with_block((60, 40), (25, 9), (3, 7)), canvas_with_block((250, 90), (240, 30), (5, 5))]
    eager = [iam(image, size=128).numpy() for image in images]
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(images), output_signature=tf.TensorSpec([None, None], tf.uint8)
    )
    graph = [out.numpy() for out in dataset.map(lambda image: iam(image, size=128))]
    for a, b in zip(eager, graph):
        np.testing.assert_array_equal(a, b)


def test_rotation_angles_and_no_clipping():
    assert rotation_angles(24)[:3] == [0.0, 15.0, 30.0] and len(rotation_angles(24)) == 24
    with pytest.raises(ValueError):
        rotation_angles(0)
    bar = np.full((40, 6), 200, dtype=np.uint8)
    rotated = rotate_expanded(bar, 90, background=0)
    assert rotated.shape == (6, 40)
    diagonal = rotate_expanded(bar, 45, background=0)
    assert diagonal.shape[0] > 30 and diagonal.shape[1] > 30
    assert abs((diagonal > 100).sum() - bar.size) < 0.25 * bar.size  # the area survives: nothing clipped
    edges = np.concatenate([diagonal[0], diagonal[-1], diagonal[:, 0], diagonal[:, -1]])
    assert edges.max() < 150


def test_stretch_distorts_to_the_full_canvas():
    from sras_keras.data.iam import final_image, stretch

    image = canvas_with_block((100, 60), (40, 10), (5, 5))
    out = stretch(image, size=32).numpy()[..., 0]
    assert out.shape == (32, 32) and out.min() > 100  # the 40 x 10 crop now fills 32 x 32
    np.testing.assert_array_equal(final_image("stretch", 32, 0)(image).numpy(), stretch(image, 32).numpy())
    np.testing.assert_array_equal(final_image("iam", 32, 0)(image).numpy(), iam(image, 32).numpy())


def test_magnify_enlarges_small_crops_keeps_their_proportions_and_still_fits():
    small = iam(canvas_with_block((200, 100), (30, 12), (80, 40)), size=64, magnify=2).numpy()[..., 0]
    rows, cols = np.nonzero(small > 100)
    assert (rows.max() + 1, cols.max() + 1) == (60, 24)  # 2x, aspect kept
    large = iam(canvas_with_block((200, 100), (50, 10), (80, 40)), size=64, magnify=2).numpy()[..., 0]
    rows, cols = np.nonzero(large > 100)
    assert rows.max() + 1 == 64 and cols.max() + 1 == 13  # capped: 50 -> 64, not 100


def test_magnify_is_refused_for_preprocessings_that_fill_the_canvas():
    from sras_keras.core.errors import SrasError
    from sras_keras.data.iam import final_image

    with pytest.raises(SrasError, match="IAM only"):
        final_image("square_resize", 64, 0, magnify=2)
