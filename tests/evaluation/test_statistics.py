import json

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import f1_score

from sras_keras.core.errors import SrasError
from sras_keras.evaluation.metrics import macro_f1
from sras_keras.evaluation.statistics import (
    bootstrap_ci,
    coral_distance,
    median_heuristic_bandwidth,
    mmd2_unbiased,
    mmd_test,
    paired_bootstrap_difference,
)


def gaussian(rows, shift=0.0, seed=0, features=4):
    return np.random.default_rng(seed).normal(shift, 1.0, (rows, features))


def brute_mmd2(x, y, sigma):
    def mean_kernel(a, b, skip_diagonal):
        kernel = np.exp(-((a[:, None] - b[None]) ** 2).sum(-1) / (2 * sigma**2))
        if skip_diagonal:
            return (kernel.sum() - np.trace(kernel)) / (len(a) * (len(a) - 1))
        return kernel.mean()

    return mean_kernel(x, x, True) + mean_kernel(y, y, True) - 2 * mean_kernel(x, y, False)


def test_mmd2_matches_the_definition():
    x, y = gaussian(9, seed=1), gaussian(7, 0.5, seed=2)
    sigma = median_heuristic_bandwidth(x, y)
    pooled = np.concatenate([x, y])
    distances = np.linalg.norm(pooled[:, None] - pooled[None], axis=-1)
    assert sigma == pytest.approx(np.median(distances[np.triu_indices(len(pooled), 1)]))
    assert mmd2_unbiased(x, y) == pytest.approx(brute_mmd2(x, y, sigma))
    assert mmd2_unbiased(x, y, bandwidth=0.7) == pytest.approx(brute_mmd2(x, y, 0.7))


def test_bandwidth_subsample_is_seeded():
    x, y = gaussian(40, seed=1), gaussian(40, seed=2)
    first = median_heuristic_bandwidth(x, y, max_points=30, seed=3)
    assert first == median_heuristic_bandwidth(x, y, max_points=30, seed=3)
    assert first == pytest.approx(median_heuristic_bandwidth(x, y), rel=0.2)


def test_mmd_near_zero_for_one_distribution_and_grows_with_shift():
    x = gaussian(150, seed=1)
    null = mmd_test(x, gaussian(150, seed=2), bootstraps=300, permutations=200, seed=0)
    assert abs(null.mmd2) < 0.01
    assert null.ci_low <= 0 <= null.ci_high
    assert null.p_value > 0.05
    values = [mmd2_unbiased(x, gaussian(150, shift, seed=2)) for shift in (0, 0.5, 1, 2)]
    assert np.all(np.diff(values) > 0)


def test_mmd_test_on_a_clear_shift():
    result = mmd_test(gaussian(40, seed=1), gaussian(30, 1.5, seed=2), bootstraps=200, permutations=99, seed=4)
    assert result.p_value == pytest.approx(1 / 100)
    assert 0 < result.ci_low < result.mmd2 < result.ci_high
    assert (result.n_x, result.n_y, result.bootstraps, result.permutations) == (40, 30, 200, 99)
    assert result == mmd_test(gaussian(40, seed=1), gaussian(30, 1.5, seed=2), bootstraps=200, permutations=99, seed=4)
    assert json.loads(json.dumps(result.to_dict())) == result.to_dict()


def test_permutation_p_values_are_uniform_under_the_null():
    p_values = np.array(
        [
            mmd_test(
                gaussian(15, seed=2 * rep), gaussian(15, seed=2 * rep + 1), bootstraps=1, permutations=99, seed=rep
            ).p_value
            for rep in range(40)
        ]
    )
    assert np.mean(p_values < 0.1) <= 0.25
    assert stats.kstest(p_values, "uniform").pvalue > 0.01


@pytest.mark.parametrize("method", ["percentile", "basic", "bca"])
def test_bootstrap_ci_matches_scipy(method):
    values = np.random.default_rng(0).exponential(1.0, 40)
    ours = bootstrap_ci(values, np.mean, resamples=10000, seed=1, method=method)
    theirs = stats.bootstrap((values,), np.mean, n_resamples=10000, method=method, rng=2).confidence_interval
    width = theirs.high - theirs.low
    assert ours.ci_low == pytest.approx(theirs.low, abs=0.05 * width)
    assert ours.ci_high == pytest.approx(theirs.high, abs=0.05 * width)
    assert ours.estimate == pytest.approx(values.mean())


def test_macro_f1_matches_scikit_learn():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 24, 300)
    predicted = np.where(rng.random(300) < 0.6, truth, rng.integers(0, 26, 300))  # misses and unseen classes
    assert macro_f1(truth, predicted) == pytest.approx(f1_score(truth, predicted, average="macro", zero_division=0))
    for labels in (range(30), [3, 1, 7]):
        expected = f1_score(truth, predicted, labels=list(labels), average="macro", zero_division=0)
        assert macro_f1(truth, predicted, labels=labels) == pytest.approx(expected)
    names = np.array(["1", "2", "X"])
    assert macro_f1(names[[0, 1, 2, 2]], names[[0, 2, 2, 1]]) == pytest.approx(
        f1_score(names[[0, 1, 2, 2]], names[[0, 2, 2, 1]], average="macro", zero_division=0)
    )


def test_paired_bootstrap_difference():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 24, 480)
    weaker = np.where(rng.random(480) < 0.7, truth, rng.integers(0, 24, 480))
    stronger = np.where(rng.random(480) < 0.9, truth, rng.integers(0, 24, 480))
    same = paired_bootstrap_difference(truth, weaker, weaker, macro_f1, resamples=500, seed=0)
    assert (same.difference, same.ci_low, same.ci_high, same.p_two_sided) == (0, 0, 0, 1)
    better = paired_bootstrap_difference(truth, weaker, stronger, macro_f1, resamples=2000, seed=0)
    assert better.difference == pytest.approx(macro_f1(truth, stronger) - macro_f1(truth, weaker))
    assert 0 < better.ci_low < better.difference < better.ci_high
    assert better.p_two_sided < 0.01
    assert better == paired_bootstrap_difference(truth, weaker, stronger, macro_f1, resamples=2000, seed=0)
    accuracy = paired_bootstrap_difference(truth, stronger, weaker, lambda t, p: np.mean(t == p), resamples=500)
    assert accuracy.ci_high < 0


def test_coral_distance():
    x = gaussian(200, seed=1)
    assert coral_distance(x, x) == 0
    assert 0 < coral_distance(x, 1.2 * x) < coral_distance(x, 2 * x)
    a, b = np.array([[0.0], [1.0], [2.0]]), np.array([[0.0], [2.0], [4.0]])  # variances 1 and 4
    assert coral_distance(a, b) == pytest.approx((4 - 1) ** 2 / 4)


@pytest.mark.parametrize(
    "call",
    [
        lambda: mmd2_unbiased(np.zeros((5, 3)), np.ones((5, 4))),
        lambda: mmd2_unbiased(np.zeros((1, 3)), np.ones((5, 3))),
        lambda: mmd2_unbiased(np.zeros(5), np.ones(5)),
        lambda: mmd2_unbiased(gaussian(5), gaussian(5), bandwidth=0),
        lambda: mmd_test(gaussian(5), gaussian(5), permutations=0),
        lambda: median_heuristic_bandwidth(np.zeros((5, 2)), np.zeros((5, 2))),
        lambda: coral_distance(np.zeros((5, 3)), np.ones((4, 2))),
        lambda: macro_f1([0, 1], [0]),
        lambda: paired_bootstrap_difference([0, 1, 2], [0, 1, 2], [0, 1], macro_f1),
        lambda: bootstrap_ci([1.0], resamples=10),
        lambda: bootstrap_ci([1.0, 2.0], confidence=1.5),
        lambda: bootstrap_ci([1.0, 2.0], method="studentized"),
    ],
)
def test_bad_input_raises(call):
    with pytest.raises(SrasError):
        call()
