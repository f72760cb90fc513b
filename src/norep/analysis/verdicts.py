"""Per-category summaries of pair values and the chapters' verdicts on them, in words.

The chapters pair the base with every partner, compute one value per pair (with
bootstrap samples on shared resamples), average the pairs of each divergence category,
and ask whether those means move monotonically from Reinit to Dataset. This module is
that last step, written once.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from norep.analysis.bootstrap import percentile_interval
from norep.zoo import CATEGORIES


def interval_text(estimate: float, low: float, high: float, digits: int = 1, *,
                  scale: float = 1.0, sign: bool = False) -> str:
    """Format an estimate and its interval, e.g. ``0.139 [0.136, 0.142]``.

    Args:
        estimate, low, high: The value and its interval bounds.
        digits: Digits after the decimal point.
        scale: Factor applied to all three first (100 for percentages).
        sign: Write a leading + on non-negative numbers.

    Example:
        >>> interval_text(0.912, 0.906, 0.918, scale=100)
        '91.2 [90.6, 91.8]'
        >>> interval_text(1.234, -0.5, 2.0, 2, sign=True)
        '+1.23 [-0.50, +2.00]'
    """
    form = f"{'+' if sign else ''}.{digits}f"
    return f"{scale * estimate:{form}} [{scale * low:{form}}, {scale * high:{form}}]"


def category_summary(values: Mapping[str, np.ndarray], samples: Mapping[str, np.ndarray],
                     categories: np.ndarray, keep: np.ndarray,
                     level: float = 0.95) -> tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]]:
    """Mean of each pair value over the kept pairs of each category, with its bootstrap interval.

    Args:
        values: Per metric, its value on every pair, shape (P,).
        samples: Per metric, its bootstrap values on shared resamples, shape (B, P).
        categories: The divergence category of every pair, shape (P,) (None for others).
        keep: Which pairs count, boolean, shape (P,).
        level: Coverage of the intervals.

    Returns:
        A table indexed by the categories present (Reinit to Dataset) with, per metric,
        columns ``metric``, ``metric_low``, ``metric_high`` and ``metric_n`` (the pairs
        averaged); and per metric the category means on every resample, shape (B,).

    Example:
        >>> table, draws = category_summary({"x": np.array([1.0, 3.0, 5.0])},
        ...                                 {"x": np.array([[1.0, 3.0, 5.0]] * 2)},
        ...                                 np.array(["Reinit", "Reinit", "Dataset"]), np.ones(3, bool))
        >>> table["x"].to_dict(), int(table.loc["Reinit", "x_n"])
        ({'Reinit': 2.0, 'Dataset': 5.0}, 2)
    """
    categories = np.asarray(categories, dtype=object)
    keep = np.asarray(keep, dtype=bool)
    masks = {c: keep & (categories == c) for c in CATEGORIES if (keep & (categories == c)).any()}
    table, draws = {}, {}
    for metric in values:
        point = {c: np.asarray(values[metric])[mask].mean() for c, mask in masks.items()}
        draws[metric] = {c: np.asarray(samples[metric])[..., mask].mean(axis=-1) for c, mask in masks.items()}
        intervals = {c: percentile_interval(point[c], draws[metric][c], level) for c in masks}
        table[metric] = {c: float(i.estimate) for c, i in intervals.items()}
        table[f"{metric}_low"] = {c: float(i.low) for c, i in intervals.items()}
        table[f"{metric}_high"] = {c: float(i.high) for c, i in intervals.items()}
        table[f"{metric}_n"] = {c: int(mask.sum()) for c, mask in masks.items()}
    return pd.DataFrame(table, index=list(masks)).rename_axis("category"), draws


def monotone_verdict(means: pd.Series, draws: Mapping[str, np.ndarray] | None = None, increasing: bool = True,
                     scale: float = 1.0, digits: int = 3, level: float = 0.95) -> tuple[str, str | None]:
    """Whether category means are monotone in the order of divergence, and by how much they move.

    Args:
        means: Category means in the order Reinit to Dataset (missing ones are dropped).
        draws: Optional per category bootstrap means, shape (B,), for the difference's interval.
        increasing: Ask for non-decreasing means (else non-increasing).
        scale: Factor applied to the numbers written (100 for percentages).
        digits: Digits after the decimal point.
        level: Coverage of the difference's interval.

    Returns:
        The verdict, "yes" or "no: " with every break of the order (or "cannot tell"
        with fewer than two categories), and the most minus the least divergent
        category's mean, with its interval when ``draws`` is given (None with fewer than
        two categories).

    Example:
        >>> monotone_verdict(pd.Series({"Reinit": 0.1, "Architecture": 0.3, "Dataset": 0.2}))
        ('no: Dataset (0.200) < Architecture (0.300)', 'Dataset − Reinit: +0.100')
    """
    means = means.dropna()
    if len(means) < 2:
        return "cannot tell: fewer than two categories", None
    values = scale * means.to_numpy(dtype=float)
    steps = np.diff(values) if increasing else -np.diff(values)
    breaks = [f"{means.index[k + 1]} ({values[k + 1]:.{digits}f}) {'<' if increasing else '>'} "
              f"{means.index[k]} ({values[k]:.{digits}f})" for k in np.flatnonzero(steps < 0)]
    verdict = "yes" if not breaks else "no: " + "; ".join(breaks)
    first, last = means.index[0], means.index[-1]
    difference = f"{last} − {first}: {values[-1] - values[0]:+.{digits}f}"
    if draws is not None:
        low, high = scale * np.nanquantile(draws[last] - draws[first], [(1 - level) / 2, (1 + level) / 2])
        difference += f" [{low:+.{digits}f}, {high:+.{digits}f}]"
    return verdict, difference
