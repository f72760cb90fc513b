"""Per-category summaries of pair values and the chapters' verdicts on them, in words.

The chapters pair the base with every partner, compute one value per pair (with
bootstrap samples on shared resamples), average the pairs of each divergence category,
and ask whether those means move from Reinit to Dataset as the paper says. This module
is that last step, written once: intervals and their texts, category means (with
crossed intervals when given model weights), the one verdict rule on a difference
between categories (:func:`contrast_verdict`, with the detectable difference beside
it), trends judged by it, and the linear fit of one pair value on another.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import linregress

from norep.analysis.bootstrap import nanquantile, percentile_interval, weighted_means
from norep.analysis.power import POWER, detectable_difference
from norep.zoo import CATEGORIES

YES = "yes"
"""The verdict of :func:`contrast_verdict` when the interval excludes 0 as expected."""
NO = "no"
"""The verdict when the interval excludes 0 the other way, or the study had power for the paper's effect."""
CANNOT_TELL = "cannot tell at this size"
"""The verdict otherwise."""


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


@dataclass(frozen=True)
class Contrast:
    """A difference between two categories, its interval, its power and its verdict.

    Attributes:
        label: What is compared, e.g. "Dataset − Reinit".
        estimate: The difference on all examples and models.
        low, high: Its percentile interval (NaN without draws).
        detectable: The smallest difference detectable at :data:`norep.analysis.power.POWER`
            (NaN when unknown).
        verdict: "yes", "no" or "cannot tell at this size" (see :func:`contrast_verdict`).
        text: The difference, its interval and its power statement in words.
    """

    label: str
    estimate: float
    low: float
    high: float
    detectable: float
    verdict: str
    text: str


def power_text(detectable: float, digits: int = 2, scale: float = 1.0) -> str:
    """The power statement of a verdict, e.g. "detectable at 80% power: ±1.20".

    Example:
        >>> power_text(1.2), power_text(float("nan"))
        ('detectable at 80% power: ±1.20', 'detectable at 80% power: unknown (fewer than 2 models in a category)')
    """
    return f"detectable at {POWER:.0%} power: " + (f"±{scale * detectable:.{digits}f}" if np.isfinite(detectable)
                                                    else "unknown (fewer than 2 models in a category)")


def contrast_verdict(label: str, estimate: float, draws: np.ndarray | None, detectable: float,
                     paper_effect: float | None = None, expected_sign: int = 1, chosen_on_test: bool = False,
                     level: float = 0.95, *, scale: float = 1.0, digits: int = 3) -> Contrast:
    """The book's one verdict rule, on a difference between two categories.

    With [low, high] the ``level`` percentile interval of ``draws``, which must carry
    model and example variance (a crossed bootstrap, see
    :func:`norep.analysis.bootstrap.model_weights`):

    - "yes" only when the interval excludes 0 in the expected direction and the
      contrast was not chosen on the test split;
    - "no" when it excludes 0 in the opposite direction, or when it includes 0 although
      the detectable difference is at most ``|paper_effect|`` (the study had the power
      to see the paper's effect, and did not);
    - otherwise "cannot tell at this size" (also without draws, without a known
      detectable difference, or when the contrast was chosen on test).

    Args:
        label: What is compared, e.g. "Dataset − Reinit".
        estimate: The difference on all examples and models.
        draws: The difference on every crossed bootstrap sample, shape (B,); None when
            there are none (the verdict is then "cannot tell at this size").
        detectable: The smallest difference detectable at 80% power
            (:func:`norep.analysis.power.detectable_difference`), NaN when unknown.
        paper_effect: The paper's size of the same difference, None when it gives none
            (then "no" needs an interval excluding 0 the wrong way).
        expected_sign: +1 when the claim expects a positive difference, -1 a negative one.
        chosen_on_test: Whether the contrast (e.g. a showcased pair) was chosen on the
            test split that measures it.
        level: Coverage of the interval.
        scale: Factor applied to the numbers written (100 for percentages).
        digits: Digits after the decimal point in the text.

    Returns:
        The contrast.

    Example:
        >>> c = contrast_verdict("Dataset − Reinit", 0.008, np.array([0.005, 0.008, 0.011]), 0.012)
        >>> c.verdict
        'yes'
        >>> c.text.split("; ")[:2]
        ['Dataset − Reinit: +0.008 [+0.005, +0.011]', 'detectable at 80% power: ±0.012']
    """
    low, high = (float("nan"), float("nan")) if draws is None else map(
        float, nanquantile(np.asarray(draws, dtype=float), ((1 - level) / 2, (1 + level) / 2)))
    signed_low, signed_high = sorted((expected_sign * low, expected_sign * high))
    powered = paper_effect is not None and detectable <= abs(paper_effect)
    if signed_low > 0 and not chosen_on_test:
        verdict = YES
    elif signed_high < 0 or (signed_low <= 0 <= signed_high and powered):
        verdict = NO
    else:
        verdict = CANNOT_TELL
    form = f"+.{digits}f"
    interval = ("(no interval)" if np.isnan(low) else f"[{scale * low:{form}}, {scale * high:{form}}]")
    paper = ("no paper effect to compare" if paper_effect is None
             else f"paper's effect {scale * paper_effect:{form}}")
    text = (f"{label}: {scale * estimate:{form}} {interval}; {power_text(detectable, digits, scale)}; {paper}"
            + ("; chosen on the test split" if chosen_on_test else ""))
    return Contrast(label, float(estimate), low, high, float(detectable), verdict, text)


def category_summary(values: Mapping[str, np.ndarray], samples: Mapping[str, np.ndarray],
                     categories: np.ndarray, keep: np.ndarray, level: float = 0.95,
                     weights: np.ndarray | None = None) -> tuple[pd.DataFrame, dict[str, dict[str, np.ndarray]]]:
    """Mean of each pair value over the kept pairs of each category, with its bootstrap interval.

    With ``weights`` (pair weights from redrawn models, see
    :func:`norep.analysis.bootstrap.pair_weights`), sample b averages the pairs with
    weights ``weights[b]``: the interval is crossed, with model and example variance;
    without them it holds example variance only.

    Args:
        values: Per metric, its value on every pair, shape (P,).
        samples: Per metric, its bootstrap values on shared resamples, shape (B, P).
        categories: The divergence category of every pair, shape (P,) (None for others).
        keep: Which pairs count, boolean, shape (P,).
        level: Coverage of the intervals.
        weights: Optional pair weights on each sample, shape (B, P).

    Returns:
        A table indexed by the categories present (Reinit to Dataset) with, per metric,
        columns ``metric``, ``metric_low``, ``metric_high``, ``metric_n`` (the pairs
        averaged) and ``metric_sd`` (the standard deviation of the pair values, ddof = 1:
        the model-level spread, NaN for a single pair); and per metric the category
        means on every resample, shape (B,).

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
        draws[metric] = {c: np.asarray(samples[metric])[..., mask].mean(axis=-1) if weights is None
                         else weighted_means(np.asarray(samples[metric])[:, mask], weights[:, mask])
                         for c, mask in masks.items()}
        intervals = {c: percentile_interval(point[c], draws[metric][c], level) for c in masks}
        table[metric] = {c: float(i.estimate) for c, i in intervals.items()}
        table[f"{metric}_low"] = {c: float(i.low) for c, i in intervals.items()}
        table[f"{metric}_high"] = {c: float(i.high) for c, i in intervals.items()}
        table[f"{metric}_n"] = {c: int(mask.sum()) for c, mask in masks.items()}
        table[f"{metric}_sd"] = {c: spread(np.asarray(values[metric])[mask]) for c, mask in masks.items()}
    return pd.DataFrame(table, index=list(masks)).rename_axis("category"), draws


def spread(values: np.ndarray) -> float:
    """Standard deviation (ddof = 1) of the values that are not NaN; NaN with fewer than two.

    Example:
        >>> spread(np.array([1.0, 3.0, np.nan])), spread(np.array([1.0]))
        (1.4142135623730951, nan)
    """
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def monotone_order(means: pd.Series, increasing: bool = True, scale: float = 1.0, digits: int = 3) -> str:
    """Whether category means are monotone in the order of divergence.

    Args:
        means: Category means in the order Reinit to Dataset (missing ones are dropped).
        increasing: Ask for non-decreasing means (else non-increasing).
        scale: Factor applied to the numbers written (100 for percentages).
        digits: Digits after the decimal point.

    Returns:
        "yes", "no: " with every break of the order, or "cannot tell: fewer than two
        categories".

    Example:
        >>> monotone_order(pd.Series({"Reinit": 0.1, "Architecture": 0.3, "Dataset": 0.2}))
        'no: Dataset (0.200) < Architecture (0.300)'
    """
    means = means.dropna()
    if len(means) < 2:
        return "cannot tell: fewer than two categories"
    values = scale * means.to_numpy(dtype=float)
    steps = np.diff(values) if increasing else -np.diff(values)
    breaks = [f"{means.index[k + 1]} ({values[k + 1]:.{digits}f}) {'<' if increasing else '>'} "
              f"{means.index[k]} ({values[k]:.{digits}f})" for k in np.flatnonzero(steps < 0)]
    return "yes" if not breaks else "no: " + "; ".join(breaks)


def monotone_verdict(means: pd.Series, draws: Mapping[str, np.ndarray] | None = None, increasing: bool = True,
                     scale: float = 1.0, digits: int = 3, level: float = 0.95, *,
                     sds: pd.Series | None = None, counts: pd.Series | None = None,
                     paper_effect: float | None = None, chosen_on_test: bool = False,
                     ) -> tuple[str, Contrast | None]:
    """The verdict on a trend over categories: :func:`contrast_verdict` on the most minus the
    least divergent category, with the monotone order beside it.

    Args:
        means: Category means in the order Reinit to Dataset (missing ones are dropped).
        draws: Optional per category means on every crossed bootstrap sample, shape (B,)
            (without them the verdict is "cannot tell at this size").
        increasing: Expect the means to rise (else to fall) with divergence.
        scale: Factor applied to the numbers written (100 for percentages).
        digits: Digits after the decimal point.
        level: Coverage of the difference's interval.
        sds: Optional model-level standard deviation per category, and
        counts: the number of models per category: with both, the difference's
            detectable size (:func:`norep.analysis.power.detectable_difference`).
        paper_effect: The paper's size of the difference (None when it gives none).
        chosen_on_test: Whether the contrast was chosen on the test split.

    Returns:
        The verdict, the rule's word then the order, e.g. "yes; monotone" or "cannot
        tell at this size; not monotone: Dataset (0.200) < Architecture (0.300)", and
        the contrast; with fewer than two categories "cannot tell: fewer than two
        categories" and None.

    Example:
        >>> verdict, contrast = monotone_verdict(pd.Series({"Reinit": 0.1, "Architecture": 0.3, "Dataset": 0.2}))
        >>> verdict
        'cannot tell at this size; not monotone: Dataset (0.200) < Architecture (0.300)'
        >>> contrast.text.split("; ")[0]
        'Dataset − Reinit: +0.100 (no interval)'
    """
    order = monotone_order(means, increasing, scale, digits)
    means = means.dropna()
    if len(means) < 2:
        return order, None
    first, last = means.index[0], means.index[-1]
    detectable = (detectable_difference(sds[last], counts[last], sds[first], counts[first], level)
                  if sds is not None and counts is not None else float("nan"))
    contrast = contrast_verdict(f"{last} − {first}", means[last] - means[first],
                                None if draws is None else draws[last] - draws[first], detectable,
                                paper_effect, 1 if increasing else -1, chosen_on_test, level,
                                scale=scale, digits=digits)
    order = "monotone" if order == "yes" else order.replace("no: ", "not monotone: ", 1)
    return f"{contrast.verdict}; {order}", contrast


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
    """Category means, the verdict on their trend with divergence, and the order.

    Attributes:
        means: Mean by category, Reinit to Dataset.
        verdict: The rule's word on the most minus the least divergent mean, then the
            order, e.g. "yes; monotone" (see :func:`monotone_verdict`); "cannot tell:
            fewer than two categories" without a contrast.
        difference: The contrast in words (estimate, interval, power statement); None
            with fewer than two categories.
        text: The means and the difference in words, e.g. ``Reinit 0.070, Dataset
            0.120; Dataset − Reinit: +0.050 [+0.020, +0.080]; detectable at 80% power: ...``.
        order: Whether the means are monotone (:func:`monotone_order`).
        contrast: The most minus the least divergent category (None with fewer than two).
    """

    means: pd.Series
    verdict: str
    difference: str | None
    text: str
    order: str = ""
    contrast: Contrast | None = None


def category_trend(means: pd.Series, draws: Mapping[str, np.ndarray] | None = None,
                   increasing: bool = True, *, scale: float = 1.0, digits: int = 3,
                   level: float = 0.95, sds: pd.Series | None = None, counts: pd.Series | None = None,
                   paper_effect: float | None = None, chosen_on_test: bool = False) -> CategoryTrend:
    """The verdict on category means (:func:`monotone_verdict`), with the means and the rise in words.

    Args:
        means: Category means in the order Reinit to Dataset.
        draws: Optional per category means on every crossed bootstrap sample.
        increasing: Expect the means to rise (else to fall) with divergence.
        scale: Factor applied to the numbers written (100 for percentages).
        digits: Digits after the decimal point.
        level: Coverage of the difference's interval.
        sds, counts: Optional model-level standard deviation and number of models per
            category, for the detectable difference.
        paper_effect: The paper's size of the most minus the least divergent difference.
        chosen_on_test: Whether the contrast was chosen on the test split.

    Returns:
        The trend.

    Example:
        >>> trend = category_trend(pd.Series({"Reinit": 0.1, "Dataset": 0.3}))
        >>> trend.verdict, trend.order
        ('cannot tell at this size; monotone', 'yes')
        >>> trend.text.split("; ")[:2]
        ['Reinit 0.100, Dataset 0.300', 'Dataset − Reinit: +0.200 (no interval)']
    """
    verdict, contrast = monotone_verdict(means, draws, increasing, scale, digits, level, sds=sds, counts=counts,
                                         paper_effect=paper_effect, chosen_on_test=chosen_on_test)
    difference = contrast.text if contrast else None
    text = means_text(means, digits, scale=scale) + (f"; {difference}" if difference else "")
    return CategoryTrend(means=means, verdict=verdict, difference=difference, text=text,
                         order=monotone_order(means, increasing, scale, digits), contrast=contrast)


def category_trends(summaries: Mapping[str, tuple[pd.DataFrame, Mapping[str, Mapping[str, np.ndarray]]]],
                    metrics: Mapping[str, str], falling: Sequence[str] = (), *, scale: float = 1.0,
                    digits: int = 3, level: float = 0.95, column: str = "verdict",
                    paper_effects: Mapping[str, float] | None = None) -> pd.DataFrame:
    """The verdict of every metric over every set of pairs, as one table.

    The detectable difference uses each category's ``metric_sd`` and ``metric_n``
    (one pair per model: pairs with a base).

    Args:
        summaries: By name of the pairs kept (e.g. "all partners"), the output of
            :func:`category_summary` (with crossed draws for a verdict other than
            "cannot tell at this size").
        metrics: Label by metric.
        falling: Metrics expected to fall with divergence (e.g. kappa); the others
            are expected to rise.
        scale: Factor applied to the numbers written (100 for percentages).
        digits: Digits after the decimal point.
        level: Coverage of the differences' intervals.
        column: Name of the verdict's column.
        paper_effects: The paper's most minus least divergent difference by metric,
            where it gives one.

    Returns:
        One row per (pairs, metric) with the category means (and their pairs), the
        verdict and the most minus the least divergent category's difference with its
        power statement ("-" when there is none).

    Example:
        >>> table, draws = category_summary({"x": np.array([0.1, 0.3])}, {"x": np.zeros((2, 2))},
        ...                                 np.array(["Reinit", "Dataset"]), np.ones(2, bool))
        >>> category_trends({"all": (table, draws)}, {"x": "x"}).iloc[0, :2].tolist()
        ['Reinit 0.100 (n=1), Dataset 0.300 (n=1)', 'cannot tell at this size; monotone']
    """
    rows = []
    for name, (table, samples) in summaries.items():
        for metric, label in metrics.items():
            trend = category_trend(table[metric], samples[metric], metric not in falling,
                                   scale=scale, digits=digits, level=level, sds=table[f"{metric}_sd"],
                                   counts=table[f"{metric}_n"], paper_effect=(paper_effects or {}).get(metric))
            rows.append({"pairs": name, "metric": label,
                         "category means": means_text(table[metric], digits, scale=scale,
                                                      counts=table[f"{metric}_n"]),
                         column: trend.verdict, "most − least divergent": trend.difference or "-"})
    return pd.DataFrame(rows).set_index(["pairs", "metric"])


def category_contrasts(table: pd.DataFrame, draws: Mapping[str, np.ndarray], metric: str, increasing: bool = True,
                       *, counts: pd.Series | None = None, paper_effect: float | None = None, scale: float = 1.0,
                       digits: int = 3, level: float = 0.95) -> list[Contrast]:
    """Every step between adjacent categories and the most minus the least divergent, each
    with its verdict (:func:`contrast_verdict`) and power statement.

    Args:
        table: A table of :func:`category_summary` (columns ``metric``, ``metric_sd``
            and ``metric_n``).
        draws: That summary's per category means of ``metric`` on every sample.
        metric: The metric.
        increasing: Expect a rise with divergence (else a fall).
        counts: Models per category for the detectable difference (``metric_n``, one
            pair per model, by default).
        paper_effect: The paper's most minus least divergent difference (None: none given).
        scale: Factor applied to the numbers written (100 for percentages).
        digits: Digits after the decimal point.
        level: Coverage of the intervals.

    Returns:
        The adjacent steps in the order of divergence, then the most minus the least
        divergent category (with fewer than three categories only that one; none with
        fewer than two).

    Example:
        >>> table, draws = category_summary({"x": np.array([0.1, 0.2, 0.4])}, {"x": np.ones((5, 3))},
        ...                                 np.array(["Reinit", "Architecture", "Dataset"]), np.ones(3, bool))
        >>> [c.label for c in category_contrasts(table, draws["x"], "x")]
        ['Architecture − Reinit', 'Dataset − Architecture', 'Dataset − Reinit']
    """
    present = list(table[metric].dropna().index)
    counts = table[f"{metric}_n"] if counts is None else counts
    steps = list(zip(present[:-1], present[1:])) if len(present) > 2 else []
    steps += [(present[0], present[-1])] if len(present) > 1 else []
    sds = table[f"{metric}_sd"]
    return [contrast_verdict(f"{last} − {first}", table.loc[last, metric] - table.loc[first, metric],
                             draws[last] - draws[first],
                             detectable_difference(sds[last], counts[last], sds[first], counts[first], level),
                             paper_effect if (first, last) == (present[0], present[-1]) else None,
                             1 if increasing else -1, level=level, scale=scale, digits=digits)
            for first, last in steps]


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
    return LinearFit(float(result.slope), float(result.intercept), float(result.rvalue), float(result.pvalue), len(x))
