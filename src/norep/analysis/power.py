r"""Power of a comparison between two categories of models: the smallest detectable difference.

A category mean averages one value per model (a pair value such as error
inconsistency with the base), and models trained alike still differ: with ``n`` models
of standard deviation ``sd`` the mean varies by about ``sd / sqrt(n)``. A zoo with few
models per category cannot see a small difference between two categories, however
many test examples it has. :func:`detectable_difference` says how small is too small.

Example:
    >>> round(detectable_difference(0.005, 4, 0.005, 4), 4)
    0.0099
"""

from __future__ import annotations

import math

from scipy.stats import norm

POWER = 0.8
"""The power every detectable difference of the book is computed for."""


def detectable_difference(sd_a: float, n_a: int, sd_b: float, n_b: int, level: float = 0.95,
                          power: float = POWER) -> float:
    r"""The smallest difference between two category means that a test detects with ``power``.

    Normal approximation, with the model-level standard deviations taken as known: the
    difference of the two means has standard error
    :math:`se = \sqrt{sd_a^2 / n_a + sd_b^2 / n_b}`, and a two-sided test at
    ``1 - level`` rejects when the observed difference exceeds :math:`z_{1 - (1 - level)/2}\, se`;
    it does so with probability ``power`` when the true difference is

    .. math:: \delta = (z_{1 - (1 - level)/2} + z_{power})\, se.

    With estimated standard deviations and few models (a t-test), the difference
    needed is somewhat larger: this is a lower bound on what the zoo can see.

    Args:
        sd_a, sd_b: Standard deviation of the model-level values within each category.
        n_a, n_b: Number of models in each category.
        level: Coverage of the test's interval (0.95: a test at 5%).
        power: Probability of detecting a true difference of the returned size.

    Returns:
        The detectable difference, in the values' unit; NaN when a category has fewer
        than 2 models (its standard deviation is then unknown) or a standard deviation
        is NaN.

    Example:
        >>> round(detectable_difference(1.0, 10, 1.0, 10), 3)   # (1.960 + 0.842) * sqrt(0.2)
        1.253
        >>> detectable_difference(1.0, 1, 1.0, 10)
        nan
    """
    if n_a < 2 or n_b < 2:
        return float("nan")
    z = norm.ppf(1 - (1 - level) / 2) + norm.ppf(power)
    return float(z * math.sqrt(sd_a ** 2 / n_a + sd_b ** 2 / n_b))



def detectable_from_interval(low: float, high: float, level: float = 0.95, power: float = POWER) -> float:
    r"""The detectable difference of an estimate whose ``level`` interval is [low, high].

    For a comparison of fixed models (e.g. one ensemble against its anchor on the same
    test examples) the standard error is read from the interval's width, as for a
    normal interval, :math:`se = (high - low) / (2 z_{1 - (1 - level)/2})`, and the
    detectable difference is :math:`(z_{1 - (1 - level)/2} + z_{power})\, se`.

    Example:
        >>> round(detectable_from_interval(-1.96, 1.96), 3)   # se = 1
        2.802
    """
    z = norm.ppf(1 - (1 - level) / 2)
    return float((z + norm.ppf(power)) * (high - low) / (2 * z))
