import numpy as np
import pytest

from sras_keras.core.errors import SrasError
from sras_keras.data.sr_pairs import PatchSampler, downscale


def chromosome(height, width, value=200):
    image = np.zeros((height, width), np.uint8)
    image[2:-2, 2:-2] = value
    return image


def test_patches_keep_foreground_and_are_deterministic():
    images = [chromosome(80, 20), chromosome(40, 30)]
    a = PatchSampler(images, background=0, patch=16, min_foreground=0.3, seed=3)
    b = PatchSampler(images, background=0, patch=16, min_foreground=0.3, seed=3)
    patches = [a.sample(np.random.default_rng(3)) for _ in range(20)]
    assert all(p.shape == (16, 16, 1) and p.dtype == np.float32 for p in patches)
    assert all((p > 0.5).mean() >= 0.3 for p in patches)
    np.testing.assert_array_equal(patches[0], b.sample(np.random.default_rng(3)))


def test_each_epochs_patches_depend_on_the_seed_and_the_epoch_alone():
    """A run resumed at epoch 2 draws the patches the uninterrupted run drew in its epoch 2."""
    banded = np.random.default_rng(0).integers(50, 255, (80, 30), dtype=np.uint8)  # no two patches alike
    sampler = PatchSampler([banded, chromosome(40, 30)], background=0, patch=16, seed=3)
    whole = [hr.numpy() for _, hr in sampler.dataset(batch_size=2, scale=2, steps_per_epoch=3).take(9)]
    resumed = [hr.numpy() for _, hr in sampler.dataset(batch_size=2, scale=2, steps_per_epoch=3, first_epoch=2).take(3)]
    for a, b in zip(whole[6:], resumed):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(whole[0], whole[3])  # epochs differ


def test_small_images_are_padded_and_counted():
    sampler = PatchSampler([chromosome(10, 8), chromosome(40, 40)], background=0, patch=16, seed=0)
    assert sampler.padded == 1
    assert sampler.sample(np.random.default_rng(0)).shape == (16, 16, 1)


def test_all_background_images_are_refused():
    with pytest.raises(SrasError, match="no training image has any foreground"):
        PatchSampler([np.zeros((30, 30), np.uint8)], background=0, patch=16)


def test_dataset_pairs_lr_and_hr():
    sampler = PatchSampler([chromosome(60, 30)], background=0, patch=16, seed=0)
    lr, hr = next(iter(sampler.dataset(batch_size=3, scale=2, steps_per_epoch=1)))
    assert lr.shape == (3, 8, 8, 1) and hr.shape == (3, 16, 16, 1)
    np.testing.assert_allclose(lr.numpy(), downscale(hr, 2).numpy())
    with pytest.raises(SrasError, match="multiple of the scale"):
        sampler.dataset(batch_size=3, scale=3, steps_per_epoch=1)
