"""Per-category summaries of pair values and the chapters' verdicts on them, in words.

The chapters pair the base with every partner, compute one value per pair (with
bootstrap samples on shared resamples), average the pairs of each divergence category,
and ask whether those means move monotonically from Reinit to Dataset. This module is
that last step, written once: intervals and their texts, category means and trends
with their verdicts, and the linear fit of one pair value on another.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import linregress

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


def interval_columns(values: Mapping[str, np.ndarray], samples: Mapping[str, np.ndarray],
                     level: float = 0.95, index: Sequence | None = None) -> pd.DataFrame:
    """Each value with its percentile bootstrap interval, as three columns per metric.

    Args:
        values: Per metric, its value on every pair, shape (P,).
        samples: Per metric, its bootstrap values, shape (B, P).
        level: Coverage of the intervals.
        index: Row labels (e.g. the partners' ids); 0..P-1 by default.

    Returns:
        A table with columns ``metric``, ``metric_low`` and ``metric_high`` per metric.

    Example:
        >>> table = interval_columns({"x": np.array([0.5])}, {"x": np.array([[0.4], [0.6]])}, 0.5)
        >>> table.round(2).to_dict("records")
        [{'x': 0.5, 'x_low': 0.45, 'x_high': 0.55}]
    """
    columns = {}
    for metric in values:
        interval = percentile_interval(values[metric], samples[metric], level)
        columns[metric], columns[f"{metric}_low"], columns[f"{metric}_high"] = (
            interval.estimate, interval.low, interval.high)
    return pd.DataFrame(columns, index=index)


def interval_texts(table: pd.DataFrame, metric: str, digits: int = 1, *, scale: float = 1.0,
                   sign: bool = False) -> list[str]:
    """:func:`interval_text` of every row of a table with the columns of :func:`interval_columns`.

    Args:
        table: Columns ``metric``, ``metric_low`` and ``metric_high``.
        metric: The metric.
        digits: Digits after the decimal point.
        scale: Factor applied first (100 for percentages).
        sign: Write a leading + on non-negative numbers.

    Returns:
        One text per row.

    Example:
        >>> interval_texts(pd.DataFrame({"x": [0.5], "x_low": [0.4], "x_high": [0.6]}), "x")
        ['0.5 [0.4, 0.6]']
    """
    return [interval_text(value, low, high, digits, scale=scale, sign=sign)
            for value, low, high in zip(table[metric], table[f"{metric}_low"], table[f"{metric}_high"])]


def means_text(means: pd.Series, digits: int = 3, *, scale: float = 1.0, sign: bool = False,
               counts: pd.Series | None = None) -> str:
    """Category means in words, e.g. ``Reinit 0.070 (n=2), Dataset 0.120 (n=1)``.

    Args:
        means: Mean by category, in the order to write.
        digits: Digits after the decimal point.
        scale: Factor applied first (100 for percentages).
        sign: Write a leading + on non-negative numbers.
        counts: Optional number of pairs by category, written after each mean.

    Example:
        >>> means_text(pd.Series({"Reinit": 0.07, "Dataset": -0.12}), 2, sign=True)
        'Reinit +0.07, Dataset -0.12'
    """
    form = f"{'+' if sign else ''}.{digits}f"
    return ", ".join(f"{category} {scale * value:{form}}"
                     + ("" if counts is None else f" (n={counts[category]})")
                     for category, value in means.items())


@dataclass(frozen=True)
class CategoryTrend:
    """Category means and whether they move monotonically with divergence.

    Attributes:
        means: Mean by category, Reinit to Dataset.
        verdict: "yes", "no: " with the breaks, or "cannot tell: ..." (see
            :func:`monotone_verdict`).
        difference: The most minus the least divergent mean in words (with its
            interval when draws were given); None with fewer than two categories.
        text: The means and the difference in words, e.g. ``Reinit 0.070, Dataset
            0.120; Dataset − Reinit: +0.050 [+0.020, +0.080]``.
    """

    means: pd.Series
    verdict: str
    difference: str | None
    text: str


def category_trend(means: pd.Series, draws: Mapping[str, np.ndarray] | None = None,
                   increasing: bool = True, *, scale: float = 1.0, digits: int = 3,
                   level: float = 0.95) -> CategoryTrend:
    """The monotone verdict on category means, with the means and the rise in words.

    Args:
        means: Category means in the order Reinit to Dataset.
        draws: Optional per category bootstrap means, for the difference's interval.
        increasing: Ask for non-decreasing means (else non-increasing).
        scale: Factor applied to the numbers written (100 for percentages).
        digits: Digits after the decimal point.
        level: Coverage of the difference's interval.

    Returns:
        The trend.

    Example:
        >>> trend = category_trend(pd.Series({"Reinit": 0.1, "Dataset": 0.3}))
        >>> trend.verdict, trend.text
        ('yes', 'Reinit 0.100, Dataset 0.300; Dataset − Reinit: +0.200')
    """
    verdict, difference = monotone_verdict(means, draws, increasing, scale, digits, level)
    text = means_text(means, digits, scale=scale) + (f"; {difference}" if difference else "")
    return CategoryTrend(means=means, verdict=verdict, difference=difference, text=text)


def category_trends(summaries: Mapping[str, tuple[pd.DataFrame, Mapping[str, Mapping[str, np.ndarray]]]],
                    metrics: Mapping[str, str], falling: Sequence[str] = (), *, scale: float = 1.0,
                    digits: int = 3, level: float = 0.95, column: str = "monotone?") -> pd.DataFrame:
    """The monotone verdict of every metric over every set of pairs, as one table.

    Args:
        summaries: By name of the pairs kept (e.g. "all partners"), the output of
            :func:`category_summary`.
        metrics: Label by metric.
        falling: Metrics expected to fall with divergence (e.g. kappa); the others
            are expected to rise.
        scale: Factor applied to the numbers written (100 for percentages).
        digits: Digits after the decimal point.
        level: Coverage of the differences' intervals.
        column: Name of the verdict's column.

    Returns:
        One row per (pairs, metric) with the category means (and their pairs), the
        verdict and the most minus the least divergent category's mean ("-" when
        there is none).

    Example:
        >>> table, draws = category_summary({"x": np.array([0.1, 0.3])}, {"x": np.zeros((2, 2))},
        ...                                 np.array(["Reinit", "Dataset"]), np.ones(2, bool))
        >>> category_trends({"all": (table, draws)}, {"x": "x"}).iloc[0, :2].tolist()
        ['Reinit 0.100 (n=1), Dataset 0.300 (n=1)', 'yes']
    """
    rows = []
    for name, (table, samples) in summaries.items():
        for metric, label in metrics.items():
            trend = category_trend(table[metric], samples[metric], metric not in falling,
                                   scale=scale, digits=digits, level=level)
            rows.append({"pairs": name, "metric": label,
                         "category means": means_text(table[metric], digits, scale=scale,
                                                      counts=table[f"{metric}_n"]),
                         column: trend.verdict, "most − least divergent": trend.difference or "-"})
    return pd.DataFrame(rows).set_index(["pairs", "metric"])


@dataclass(frozen=True)
class LinearFit:
    """A least-squares line of y on x, with Pearson's r and its p-value.

    Attributes:
        slope, intercept, r, p: The line, Pearson's r and the two-sided p-value of
            ``scipy.stats.linregress``.
        n: The points fitted.
    """

    slope: float
    intercept: float
    r: float
    p: float
    n: int

    def text(self) -> str:
        """The fit in words, e.g. ``slope 0.41, r = 0.93 (p = 0.0012, n = 9)``."""
        return f"slope {self.slope:.2f}, r = {self.r:.2f} (p = {self.p:.2g}, n = {self.n})"

    def verdict(self, alpha: float = 0.05) -> str:
        """"yes" when y grows with x (positive slope, p < alpha), else "no" with r and p."""
        return "yes" if self.slope > 0 and self.p < alpha else f"no: r = {self.r:.2f}, p = {self.p:.2g}"


def linear_fit(x: Sequence[float], y: Sequence[float]) -> LinearFit | None:
    """Fit y on x by least squares; None with fewer than 3 points or a constant x.

    Args:
        x: The predictor.
        y: The response, same length.

    Returns:
        The fit, or None when there is too little to fit.

    Example:
        >>> fit = linear_fit([0.0, 1.0, 2.0], [1.0, 3.0, 5.0])
        >>> round(fit.slope, 6), round(fit.intercept, 6), round(fit.r, 6), fit.n
        (2.0, 1.0, 1.0, 3)
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3 or len(np.unique(x)) < 2:
        return None
    result = linregress(x, y)
    return LinearFit(result.slope, result.intercept, result.rvalue, result.pvalue, len(x))
