"""The two-step transfer paper's statistics: MMD and CORAL domain distances, and bootstrap confidence intervals.

Kernel convention: the Gaussian RBF k(a, b) = exp(-||a - b||^2 / (2 sigma^2)), sigma from the median heuristic
(the median pairwise Euclidean distance of the pooled sample). MMD^2 is the unbiased U-statistic of Gretton et
al. 2012 (eq. 3), its 95% CI a bootstrap and its p-value a permutation test (Table 1); CORAL follows Sun & Saenko
2016. Fig. 2's error bars are ``bootstrap_ci`` of the five per-fold Macro-F1 differences;
``paired_bootstrap_difference`` resamples the test items of one test set instead.

Every random procedure takes a ``seed`` and is deterministic for it. Kernel methods hold the pooled
(n_x + n_y)^2 kernel matrix in memory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from scipy.spatial.distance import pdist, squareform
from scipy.special import ndtr, ndtri

from sras_keras.core.errors import SrasError
from sras_keras.evaluation.metrics import check_paired, macro_f1

BANDWIDTH_MAX_POINTS = 2000
CHUNK_ELEMENTS = 4_000_000  # bounds the (pooled rows x resamples) work arrays to ~32 MB
BOOTSTRAP_METHODS = ("percentile", "basic", "bca")


class _Result:
    def to_dict(self) -> dict:
        """Plain numbers and strings, ready for JSON."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class MMDResult(_Result):
    mmd2: float
    bandwidth: float
    ci_low: float
    ci_high: float
    confidence: float
    p_value: float
    n_x: int
    n_y: int
    bootstraps: int
    permutations: int


@dataclasses.dataclass(frozen=True)
class BootstrapResult(_Result):
    score_a: float
    score_b: float
    difference: float
    ci_low: float
    ci_high: float
    confidence: float
    p_two_sided: float
    resamples: int
    n: int


@dataclasses.dataclass(frozen=True)
class BootstrapCI(_Result):
    estimate: float
    ci_low: float
    ci_high: float
    confidence: float
    method: str
    resamples: int
    n: int


def median_heuristic_bandwidth(x, y, *, max_points: int = BANDWIDTH_MAX_POINTS, seed: int = 0) -> float:
    """sigma = median pairwise distance of the pooled rows (self-pairs excluded), for k = exp(-d^2 / (2 sigma^2)).

    Pools above ``max_points`` rows use a seeded subsample so the cost stays bounded.
    """
    x, y = _check_samples(x, y)
    pooled = np.concatenate([x, y])
    if len(pooled) > max_points:
        pooled = pooled[np.random.default_rng(seed).choice(len(pooled), max_points, replace=False)]
    sigma = float(np.median(pdist(pooled)))
    if sigma <= 0:
        raise SrasError("median heuristic bandwidth is 0: most pooled rows coincide; pass a bandwidth")
    return sigma


def mmd2_unbiased(x, y, bandwidth: float | None = None) -> float:
    """Unbiased MMD^2 (Gretton et al. 2012, eq. 3) of rows of ``x`` and ``y``; near 0, it can be negative."""
    x, y = _check_samples(x, y)
    bandwidth = _resolve_bandwidth(x, y, bandwidth, seed=0)
    kernel = _pooled_kernel(x, y, bandwidth)
    in_x = np.zeros((len(kernel), 1))
    in_x[: len(x)] = 1
    return float(_split_mmd2(kernel, in_x, len(x), len(y))[0])


def mmd_test(
    x,
    y,
    *,
    bootstraps: int = 1000,
    permutations: int = 1000,
    seed: int = 0,
    bandwidth: float | None = None,
    confidence: float = 0.95,
) -> MMDResult:
    """MMD^2 of ``x`` and ``y`` with a bootstrap percentile CI and a permutation p-value (paper Table 1).

    The bandwidth is fixed once from the observed pooled sample (median heuristic unless given) and reused by
    every resample, so the CI and the test are about one fixed kernel; re-estimating it would mix the kernel's
    own sampling noise in. (The pooled sample, hence the heuristic, is the same under every permutation anyway.)

    Bootstrap: rows of x and of y are resampled independently with replacement. A resample repeats rows, and
    a pair of copies of one row has k = 1, so the U-statistic computed on the resample as is would be biased
    upwards (towards the biased V-statistic). The within-sample terms therefore average over pairs of
    distinct original rows only, which makes the bootstrap mean equal the observed estimate; a resample of a
    single repeated row (probability n^(1 - n)) has no such pair and keeps the observed within-sample term.

    Permutation test: the pooled rows are shuffled and split at len(x); p = (1 + #{perm >= observed}) /
    (1 + permutations), with ties up to rounding counted as >=. The pooled kernel is computed once; each
    resample is a 0/1 (or count) weighting of its rows.
    """
    x, y = _check_samples(x, y)
    _check_count(bootstraps, "bootstraps")
    _check_count(permutations, "permutations")
    _check_confidence(confidence)
    bandwidth = _resolve_bandwidth(x, y, bandwidth, seed)
    kernel = _pooled_kernel(x, y, bandwidth)
    m, n = len(x), len(y)
    in_x = np.zeros((m + n, 1))
    in_x[:m] = 1
    observed = float(_split_mmd2(kernel, in_x, m, n)[0])
    bootstrap_rng, permutation_rng = np.random.default_rng(seed).spawn(2)
    resampled = _bootstrap_mmd2(kernel, m, n, bootstraps, bootstrap_rng)
    permuted = _permutation_mmd2(kernel, m, n, permutations, permutation_rng)
    ci_low, ci_high = _percentile_interval(resampled, confidence)
    at_least_observed = np.count_nonzero(permuted >= observed - 100 * np.finfo(float).eps * abs(observed))
    return MMDResult(
        mmd2=observed,
        bandwidth=float(bandwidth),
        ci_low=ci_low,
        ci_high=ci_high,
        confidence=float(confidence),
        p_value=float((1 + at_least_observed) / (1 + permutations)),
        n_x=m,
        n_y=n,
        bootstraps=int(bootstraps),
        permutations=int(permutations),
    )


def coral_distance(x, y) -> float:
    """CORAL distance (Sun & Saenko 2016): ||C_x - C_y||_F^2 / (4 d^2), unbiased feature covariances."""
    x, y = _check_samples(x, y)
    difference = np.atleast_2d(np.cov(x, rowvar=False)) - np.atleast_2d(np.cov(y, rowvar=False))
    return float(np.sum(difference**2) / (4 * x.shape[1] ** 2))


def paired_bootstrap_difference(
    y_true,
    pred_a,
    pred_b,
    metric: Callable[[np.ndarray, np.ndarray], float] = macro_f1,
    *,
    resamples: int = 10000,
    seed: int = 0,
    confidence: float = 0.95,
) -> BootstrapResult:
    """metric(b) - metric(a) on one test set, with a percentile CI from resampling test items.

    Both systems are scored on the same resampled items (paired), so item difficulty cancels out.
    ``p_two_sided`` = 2 min(P*(diff <= 0), P*(diff >= 0)) over the bootstrap distribution, capped at 1: the
    smallest two-sided level whose percentile CI still reaches 0, not an exact test.
    """
    y_true, pred_a = check_paired(y_true, pred_a)
    y_true, pred_b = check_paired(y_true, pred_b)
    _check_count(resamples, "resamples")
    _check_confidence(confidence)
    rng = np.random.default_rng(seed)
    n = len(y_true)
    differences = np.empty(resamples)
    for resample in range(resamples):
        items = rng.integers(0, n, n)
        differences[resample] = metric(y_true[items], pred_b[items]) - metric(y_true[items], pred_a[items])
    score_a, score_b = float(metric(y_true, pred_a)), float(metric(y_true, pred_b))
    ci_low, ci_high = _percentile_interval(differences, confidence)
    tail = min(np.mean(differences <= 0), np.mean(differences >= 0))
    return BootstrapResult(
        score_a=score_a,
        score_b=score_b,
        difference=score_b - score_a,
        ci_low=ci_low,
        ci_high=ci_high,
        confidence=float(confidence),
        p_two_sided=float(min(1.0, 2 * tail)),
        resamples=int(resamples),
        n=n,
    )


def bootstrap_ci(
    values,
    statistic: Callable[[np.ndarray], float] = np.mean,
    *,
    resamples: int = 10000,
    seed: int = 0,
    confidence: float = 0.95,
    method: str = "percentile",
) -> BootstrapCI:
    """Bootstrap CI of ``statistic`` of one 1-D sample, as ``scipy.stats.bootstrap`` defines its methods.

    'percentile' is the paper's (Fig. 2: the mean of five per-fold differences); 'basic' reflects it about
    the estimate; 'bca' corrects bias and skew (a constant jackknife gives no acceleration).
    """
    if method not in BOOTSTRAP_METHODS:
        raise SrasError(f"bootstrap method must be one of {', '.join(BOOTSTRAP_METHODS)}, got {method!r}")
    values = np.asarray(values)
    if values.ndim != 1 or len(values) < 2:
        raise SrasError(f"bootstrap_ci needs a 1-D sample of at least 2 values, got shape {values.shape}")
    _check_count(resamples, "resamples")
    _check_confidence(confidence)
    rng = np.random.default_rng(seed)
    n = len(values)
    estimate = float(statistic(values))
    distribution = np.array([statistic(values[rng.integers(0, n, n)]) for _ in range(resamples)], dtype=float)
    tail = (1 - confidence) / 2
    if method == "percentile":
        ci_low, ci_high = _percentile_interval(distribution, confidence)
    elif method == "basic":
        upper, lower = np.quantile(distribution, [1 - tail, tail])
        ci_low, ci_high = 2 * estimate - upper, 2 * estimate - lower
    else:
        ci_low, ci_high = np.quantile(distribution, _bca_levels(values, statistic, estimate, distribution, tail))
    return BootstrapCI(
        estimate=estimate,
        ci_low=float(ci_low),
        ci_high=float(ci_high),
        confidence=float(confidence),
        method=method,
        resamples=int(resamples),
        n=n,
    )


def _bca_levels(values, statistic, estimate, distribution, tail) -> list[float]:
    """The BCa quantile levels for the two ends (Efron 1987), with scipy's ties-split bias correction."""
    below = (np.count_nonzero(distribution < estimate) + np.count_nonzero(distribution <= estimate)) / 2
    bias = ndtri(below / len(distribution))
    jackknife = np.array([statistic(np.delete(values, i)) for i in range(len(values))], dtype=float)
    spread = jackknife.mean() - jackknife
    spread_scale = 6 * np.sum(spread**2) ** 1.5
    acceleration = np.sum(spread**3) / spread_scale if spread_scale > 0 else 0.0
    levels = []
    for z in (ndtri(tail), -ndtri(tail)):
        levels.append(float(ndtr(bias + (bias + z) / (1 - acceleration * (bias + z)))))
    return levels


def _check_samples(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2:
        raise SrasError(f"samples must be 2-D (rows, features), got shapes {x.shape} and {y.shape}")
    if x.shape[1] != y.shape[1]:
        raise SrasError(f"samples have different feature counts: {x.shape[1]} and {y.shape[1]}")
    if len(x) < 2 or len(y) < 2:
        raise SrasError(f"each sample needs at least 2 rows, got {len(x)} and {len(y)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise SrasError("samples contain NaN or infinite values")
    return x, y


def _check_count(count: int, name: str) -> None:
    if int(count) != count or count < 1:
        raise SrasError(f"{name} must be a positive integer, got {count!r}")


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise SrasError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")


def _resolve_bandwidth(x, y, bandwidth, seed) -> float:
    if bandwidth is None:
        return median_heuristic_bandwidth(x, y, seed=seed)
    if not (np.isfinite(bandwidth) and bandwidth > 0):
        raise SrasError(f"bandwidth must be a positive finite number, got {bandwidth!r}")
    return float(bandwidth)


def _pooled_kernel(x, y, bandwidth) -> np.ndarray:
    """The RBF kernel of the pooled rows with a zero diagonal: the U-statistic never pairs a row with itself."""
    kernel = squareform(pdist(np.concatenate([x, y]), "sqeuclidean"))
    kernel /= -2 * bandwidth**2
    np.exp(kernel, out=kernel)
    np.fill_diagonal(kernel, 0)
    return kernel


def _split_mmd2(kernel, in_x, m, n) -> np.ndarray:
    """MMD^2_u for each column of ``in_x`` (pooled rows, splits): 0/1 marks of the m pooled rows taken as x.

    With a = in_x, b = 1 - a and K zero-diagonal: within-x a'Ka, cross a'Kb = a'K1 - a'Ka, within-y
    1'K1 - a'Ka - 2 a'Kb, so one matrix product scores every split.
    """
    within_x = np.einsum("ip,ip->p", in_x, kernel @ in_x)
    cross = in_x.T @ kernel.sum(axis=1) - within_x
    within_y = kernel.sum() - within_x - 2 * cross
    return within_x / (m * (m - 1)) + within_y / (n * (n - 1)) - 2 * cross / (m * n)


def _permutation_mmd2(kernel, m, n, permutations, rng) -> np.ndarray:
    chunk = max(1, CHUNK_ELEMENTS // (m + n))
    statistics = []
    for start in range(0, permutations, chunk):
        size = min(chunk, permutations - start)
        shuffled = rng.permuted(np.tile(np.arange(m + n), (size, 1)), axis=1)
        in_x = np.zeros((m + n, size))
        in_x[shuffled[:, :m].T, np.arange(size)] = 1
        statistics.append(_split_mmd2(kernel, in_x, m, n))
    return np.concatenate(statistics)


def _bootstrap_mmd2(kernel, m, n, bootstraps, rng) -> np.ndarray:
    """MMD^2 of resamples as row counts; within-sample terms average pairs of distinct original rows."""
    kernel_xx, kernel_yy, kernel_xy = kernel[:m, :m], kernel[m:, m:], kernel[:m, m:]
    observed_xx = kernel_xx.sum() / (m * (m - 1))
    observed_yy = kernel_yy.sum() / (n * (n - 1))
    chunk = max(1, CHUNK_ELEMENTS // (m + n))
    statistics = []
    for start in range(0, bootstraps, chunk):
        size = min(chunk, bootstraps - start)
        counts_x, counts_y = _resample_counts(rng, m, size), _resample_counts(rng, n, size)
        within_x = _within_mean(kernel_xx, counts_x, observed_xx)
        within_y = _within_mean(kernel_yy, counts_y, observed_yy)
        cross = np.einsum("ip,ip->p", counts_x, kernel_xy @ counts_y) / (m * n)
        statistics.append(within_x + within_y - 2 * cross)
    return np.concatenate(statistics)


def _resample_counts(rng, rows, size) -> np.ndarray:
    """(rows, size): how often each row is drawn in each of ``size`` resamples of ``rows`` draws."""
    draws = rng.integers(0, rows, (size, rows)) + rows * np.arange(size)[:, None]
    return np.bincount(draws.ravel(), minlength=rows * size).reshape(size, rows).T.astype(np.float64)


def _within_mean(kernel, counts, observed) -> np.ndarray:
    """Mean kernel over pairs of distinct original rows: sum_{i != j} c_i c_j K_ij / (m^2 - sum c_i^2)."""
    pairs = len(kernel) ** 2 - np.sum(counts**2, axis=0)
    sums = np.einsum("ip,ip->p", counts, kernel @ counts)
    return np.divide(sums, pairs, out=np.full(len(pairs), observed), where=pairs > 0)


def _percentile_interval(distribution, confidence) -> tuple[float, float]:
    tail = (1 - confidence) / 2
    low, high = np.quantile(distribution, [tail, 1 - tail])
    return float(low), float(high)
