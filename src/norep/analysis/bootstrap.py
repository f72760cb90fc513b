r"""The paired bootstrap over examples, shared by every analysis.

A bootstrap resample redraws the M examples with replacement; sample b is described by
the multiplicities :math:`w_{bm}` (how often example m is drawn). The draws depend only
on the seed, the number of samples B and M, so two computations with the same seed see
the same resamples, and differences between their statistics get intervals too (a
paired bootstrap). Sums over examples are matrix products :math:`w \, \mathrm{values}`.

Example:
    >>> values = np.ones((4, 1))
    >>> bootstrap_sums(values, n_boot=3)[:, 0].tolist()
    [4.0, 4.0, 4.0]
"""

from __future__ import annotations

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
