r"""The paired bootstrap over examples, shared by every analysis.

A bootstrap resample redraws the M examples with replacement; sample b is described by
the multiplicities :math:`w_{bm}` (how often example m is drawn). The draws depend only
on the seed, the number of samples B and M, so two computations with the same seed see
the same resamples, and differences between their statistics get intervals too (a
paired bootstrap). Sums over examples are matrix products :math:`w \, \mathrm{values}`.

The examples are not the only source of variation: which model happened to be trained
is another. :func:`model_weights` redraws the models of each category with replacement
(independently of the examples), and :func:`pair_weights` turns those draws into the
weight of every pair, so that a category mean over pairs gets a **crossed** interval,
with model and example variance together.

Example:
    >>> values = np.ones((4, 1))
    >>> bootstrap_sums(values, n_boot=3)[:, 0].tolist()
    [4.0, 4.0, 4.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BOOT_CHUNK = 50
"""Bootstrap samples drawn at once."""


def bootstrap_sums(values: np.ndarray, n_boot: int = 1000, seed: int = 0,
                   groups: np.ndarray | None = None) -> np.ndarray:
    r"""Column sums of ``values`` over bootstrap resamples of its rows, optionally per group.

    The resamples depend only on ``seed``, ``n_boot`` and the number of rows, so two
    calls with the same arguments resample the same examples (a paired bootstrap).

    Args:
        values: Shape (M, K): one row per example.
        n_boot: Number of bootstrap samples B.
        seed: Seed of the resampling.
        groups: Optional group code per row, shape (M,); every code in 0..G-1 must occur.

    Returns:
        Shape (B, K), or (B, G, K) with groups: sample b holds
        :math:`\sum_m w_{bm} \, \mathrm{values}_{mk}` (over the rows of each group), with
        :math:`w_b` the multiplicities of a draw of M rows with replacement.
    """
    values = np.asarray(values, dtype=np.float64)
    if groups is None:
        sums = np.empty((n_boot, values.shape[1]))
        for start, weights in resample_weights(len(values), n_boot, seed):
            sums[start:start + len(weights)] = weights.astype(np.float64) @ values
        return sums
    groups = np.asarray(groups)
    n_groups = int(groups.max(initial=-1)) + 1
    order, starts = group_order(groups, n_groups)
    position = np.empty(len(groups), dtype=np.intp)
    position[order] = np.arange(len(groups))
    sorted_values = values[order]
    sums = np.empty((n_boot, n_groups, values.shape[1]))
    for start, weights in resample_weights(len(values), n_boot, seed, position):
        sums[start:start + len(weights)] = group_sums(weights, sorted_values, starts)
    return sums


def resample_weights(n_examples: int, n_boot: int, seed: int, position: np.ndarray | None = None):
    """Yield ``(start, weights)`` for the bootstrap resamples, ``BOOT_CHUNK`` at a time.

    ``weights[b, m]`` is how often resample ``start + b`` draws row m (of M rows drawn
    with replacement). With ``position`` (a permutation of the rows), the multiplicity of
    row m is in column ``position[m]`` instead. The draws depend only on ``seed``,
    ``n_boot`` and ``n_examples``.
    """
    rng = np.random.default_rng(seed)
    for start in range(0, n_boot, BOOT_CHUNK):
        size = min(BOOT_CHUNK, n_boot - start)
        draws = rng.integers(0, n_examples, size=(size, n_examples))
        if position is not None:
            draws = position[draws]
        draws += n_examples * np.arange(size)[:, None]
        yield start, np.bincount(draws.ravel(), minlength=size * n_examples).reshape(size, n_examples)


def stored_weights(n_examples: int, n_boot: int, seed: int,
                   position: np.ndarray | None = None) -> list[np.ndarray]:
    """The multiplicities of :func:`resample_weights`, kept in memory in their smallest
    unsigned integer type (about B x M bytes), for computations that visit the same
    resamples several times."""
    return [w.astype(np.min_scalar_type(int(w.max(initial=0))))
            for _, w in resample_weights(n_examples, n_boot, seed, position)]


def group_order(codes: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows sorted by group code (stable) and where each group starts, shape (G + 1,)."""
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(n_groups + 1))
    return order, starts


def group_sums(weights: np.ndarray, sorted_values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per-group weighted sums, shape (S, G, K): ``weights`` (S, M) and ``sorted_values``
    (M, K) have their rows in group order, group g in ``starts[g]:starts[g + 1]``.

    One small matrix product per group; with 0/1 (or integer) values every sum is an
    exact integer, so the result does not depend on K or on the order of the terms.
    """
    weights = weights.astype(np.float64)
    sums = np.empty((len(weights), len(starts) - 1, sorted_values.shape[1]))
    for group, (low, high) in enumerate(zip(starts[:-1], starts[1:])):
        np.matmul(weights[:, low:high], sorted_values[low:high], out=sums[:, group])
    return sums


def model_weights(strata: Sequence[object], n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """Multiplicities of models when each stratum's models are redrawn with replacement.

    The draws are independent of the example resamples of the same seed (they use
    another stream of it). A model whose stratum is None (the base) is never redrawn: its
    weight is always 1.

    Args:
        strata: The stratum of each model (e.g. its category), shape (N,).
        n_boot: Number of bootstrap samples B.
        seed: Seed of the resampling.

    Returns:
        Shape (B, N): how often sample b draws model n.

    Example:
        >>> w = model_weights(["Reinit", "Reinit", None], n_boot=4, seed=0)
        >>> w[:, :2].sum(axis=1).tolist(), w[:, 2].tolist()
        ([2, 2, 2, 2], [1, 1, 1, 1])
    """
    rng = np.random.default_rng([seed, 1])
    strata = list(strata)
    weights = np.ones((n_boot, len(strata)), dtype=np.int64)
    for stratum in dict.fromkeys(s for s in strata if s is not None):
        members = np.flatnonzero([s == stratum for s in strata])
        draws = rng.integers(0, len(members), size=(n_boot, len(members)))
        counts = (draws[:, :, None] == np.arange(len(members))).sum(axis=1)
        weights[:, members] = counts
    return weights


def pair_weights(weights: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Weight of each pair of models in each sample: the product of the two models' draws.

    A pair counts once for every way of drawing its two models, so the pairs with a base
    (weight 1) count as often as their partner is drawn, and pairs among members as often
    as both are.

    Args:
        weights: Model multiplicities, shape (B, N), from :func:`model_weights`.
        first, second: Index of each pair's two models, shape (P,).

    Returns:
        Shape (B, P).

    Example:
        >>> pair_weights(np.array([[2, 0, 1]]), np.array([2, 0]), np.array([0, 1])).tolist()
        [[2, 0]]
    """
    return weights[:, np.asarray(first)] * weights[:, np.asarray(second)]


def weighted_means(samples: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per sample, the weighted mean over pairs (NaN when every weight is 0).

    Args:
        samples: Pair values on each sample, shape (B, P); NaN values count as missing.
        weights: Pair weights, shape (B, P).

    Returns:
        Shape (B,).
    """
    samples = np.asarray(samples, dtype=np.float64)
    weights = np.where(np.isnan(samples), 0.0, weights)
    total = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (weights * np.nan_to_num(samples)).sum(axis=1) / total, np.nan)


@dataclass(frozen=True)
class Interval:
    """A point estimate with a percentile bootstrap interval.

    Attributes:
        estimate: The value on all examples.
        low: Lower end of the interval.
        high: Upper end of the interval.
        samples: The bootstrap values, shape ``(B, *estimate.shape)``.
    """

    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    samples: np.ndarray


def percentile_interval(estimate: np.ndarray, samples: np.ndarray, level: float = 0.95) -> Interval:
    """Return the percentile interval of bootstrap ``samples`` (NaN samples ignored).

    The ends are ``np.nanquantile(samples, [tail, 1 - tail], axis=0)`` with
    ``tail = (1 - level) / 2`` (linear interpolation), computed by :func:`nanquantile`.

    Args:
        estimate: The value on all examples.
        samples: Bootstrap values, shape (B, ...).
        level: Coverage of the interval, e.g. 0.95.

    Returns:
        The interval.
    """
    tail = (1 - level) / 2
    low, high = nanquantile(samples, (tail, 1 - tail))
    return Interval(np.asarray(estimate), low, high, samples)


def nanquantile(samples: np.ndarray, quantiles: tuple[float, ...]) -> np.ndarray:
    """Quantiles along axis 0 ignoring NaN, equal to ``np.nanquantile(samples, quantiles, axis=0)``.

    numpy computes the quantiles of each column separately in Python (slow for many
    columns); this sorts all columns at once and interpolates linearly between the two
    nearest order statistics exactly as numpy does. A column without any finite value
    gives NaN.

    Args:
        samples: Shape (B, ...).
        quantiles: Probabilities in [0, 1].

    Returns:
        Shape (len(quantiles), ...).
    """
    samples = np.asarray(samples, dtype=np.float64)
    shape = samples.shape[1:]
    ordered = np.sort(samples.reshape(len(samples), -1), axis=0)  # NaN sort last
    count = np.count_nonzero(~np.isnan(ordered), axis=0)
    columns = np.arange(ordered.shape[1])
    result = np.full((len(quantiles), ordered.shape[1]), np.nan)
    defined = count > 0
    last = np.maximum(count - 1, 0)
    for row, q in enumerate(quantiles):
        virtual = last * float(q)  # numpy: (n - 1) * q
        below = np.minimum(np.floor(virtual).astype(np.intp), last)
        above = np.minimum(below + 1, last)
        gamma = virtual - below
        a, b = ordered[below, columns], ordered[above, columns]
        with np.errstate(invalid="ignore"):
            difference = b - a
            value = np.where(gamma >= 0.5, b - difference * (1 - gamma), a + difference * gamma)
        result[row] = np.where(defined, value, np.nan)
    return result.reshape((len(quantiles),) + shape)
