"""Cell-relative size evidence: relative sizes, the per-class fit, the fusion and the choice of its weight."""

import numpy as np
import pytest

from sras_keras.core.errors import SrasError
from sras_keras.inference.size_evidence import SizeEvidence, foreground_area, relative_log_sizes


def test_foreground_area_counts_pixels_away_from_the_background():
    image = np.zeros((10, 10), np.uint8)
    image[2:5, 3:7] = 200
    image[0, 0] = 10  # within the threshold of black
    assert foreground_area(image, background=0, threshold=20) == 12
    assert foreground_area(255 - image, background=255, threshold=20) == 12


def test_relative_sizes_are_per_cell_and_need_enough_chromosomes():
    areas = [100, 200, 400, 50, 100, 200, 300]
    cells = ["a", "a", "a", "b", "b", "b", "c"]
    sizes = relative_log_sizes(areas, cells, min_cell_images=3)
    np.testing.assert_allclose(sizes[:6], np.log([0.5, 1, 2, 0.5, 1, 2]))  # a cell twice as condensed: same sizes
    assert np.isnan(sizes[6])  # a cell of one chromosome has no median worth the name
    assert np.isnan(relative_log_sizes([0, 100, 100], ["a"] * 3, 3)[0])  # an empty image: no evidence


def _two_classes(rng, n=200):
    labels = rng.integers(0, 2, n)
    sizes = np.where(labels == 0, 0.5, -0.5) + rng.normal(0, 0.1, n)
    return sizes, labels


def test_fit_recovers_each_class_and_fusion_decides_what_the_image_cannot():
    rng = np.random.default_rng(0)
    sizes, labels = _two_classes(rng)
    evidence = SizeEvidence.fit(sizes, labels, num_classes=2)
    np.testing.assert_allclose(evidence.mean, [0.5, -0.5], atol=0.03)
    np.testing.assert_allclose(evidence.std, [0.1, 0.1], atol=0.03)
    undecided = np.full((4, 2), 0.5)
    fused = evidence.fuse(undecided, [0.45, -0.6, np.nan, 0.5], weight=1.0)
    assert list(fused[[0, 1, 3]].argmax(1)) == [0, 1, 0]
    np.testing.assert_allclose(fused[2], [0.5, 0.5])  # no size evidence: the image's probabilities stand
    np.testing.assert_allclose(fused.sum(1), 1.0)
    np.testing.assert_allclose(evidence.fuse(undecided, [0.45, -0.6, 0.0, 0.5], weight=0.0), undecided)
    assert SizeEvidence.from_dict(evidence.to_dict()) == evidence


def test_the_weight_is_chosen_on_the_given_images():
    rng = np.random.default_rng(1)
    sizes, labels = _two_classes(rng)
    evidence = SizeEvidence.fit(sizes, labels, num_classes=2)
    confused = np.where(rng.random((len(labels), 1)) < 0.7, np.eye(2)[labels], np.eye(2)[1 - labels]) * 0.6 + 0.2
    chosen, tried = evidence.choose_weight(confused, sizes, labels)
    assert tried[0.0]["accuracy"] == pytest.approx(np.mean(confused.argmax(1) == labels))
    assert tried[0.0]["log_loss"] == pytest.approx(-np.mean(np.log(confused[np.arange(len(labels)), labels])))
    assert chosen.weight > 0 and tried[chosen.weight]["accuracy"] > tried[0.0]["accuracy"]
    assert tried[chosen.weight]["log_loss"] == min(entry["log_loss"] for entry in tried.values())
    # sizes unrelated to the labels: the image alone wins
    chosen, _ = evidence.choose_weight(np.eye(2)[labels] * 0.9 + 0.05, rng.permutation(sizes), labels)
    assert chosen.weight == 0.0
    # no size evidence at all (NaN): every weight ties, the smallest is taken
    chosen, _ = evidence.choose_weight(confused, np.full(len(labels), np.nan), labels)
    assert chosen.weight == 0.0


def test_a_class_without_training_sizes_is_an_error():
    with pytest.raises(SrasError, match=r"class index\(es\) \[2\]"):
        SizeEvidence.fit([0.1, 0.2, np.nan], [0, 1, 2], num_classes=3)
