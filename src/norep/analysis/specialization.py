r"""Specialization: on which examples, and where in the data, each model of a pair wins.

Confidence angle (the paper's Fig. 3): on the examples that exactly one model of the
pair (a, b) gets right,

.. math::

   \theta = \operatorname{arctan2}(\mathrm{conf}_b, \mathrm{conf}_a) \in [0, \pi / 2]
   \text{ radians},

with :math:`\mathrm{conf}` the top-1 confidence (the maximum softmax probability).
:math:`\theta < \pi / 4` means a was more confident, :math:`\theta > \pi / 4` that b
was. The paper's finding: when training methods diverge, the model that is right tends
to be the confident one (:math:`\theta` near 0 when a is right, near :math:`\pi / 2`
when b is). Only top-1 confidences are needed, so the angle is exact for models that
give only a top-1 answer and its confidence; temperature scaling of the confidences
needs logits.

Who wins where: for each value :math:`g` of a subdomain (the class, a superclass, any
column of the store's examples table), the accuracy difference
:math:`\mathrm{acc}_a(g) - \mathrm{acc}_b(g)` on the examples of :math:`g` that both
models answered, with a paired bootstrap percentile interval (examples resampled with
replacement, the same draw for both models and every group). Examples whose subdomain
is missing (NaN or None, e.g. ImageNet-X images without a top factor) are left out by
default; ``missing="name"`` reports them as one more group of that name instead. Many
pairs (or many models against one reference) go through
:func:`subdomain_differences_many` and :func:`who_wins_where_many` in one call, which
draws the resamples once and gives the same numbers as pair-by-pair calls.

The chapter's summaries of a base against its partners: :func:`confident_right_share`
(the share of the exactly-one-right examples on which the right model is the more
confident, with paired bootstrap intervals), :func:`class_spread` (how unevenly the two
models of a pair differ across classes), :func:`pair_mean` (the mean over a set of
pairs) and :func:`category_trend` (category means of a pair value and its trend with
divergence). Per-pair intervals resample the test examples only; means over pairs get
**crossed** intervals when given pair weights from redrawn models
(:func:`norep.analysis.bootstrap.model_weights`), with model and example variance.

Example:
    >>> rows, theta, a_right = confidence_angles(
    ...     np.array([0.9, 0.5]), np.array([0.2, 0.5]), np.array([True, True]), np.array([False, True]))
    >>> rows.tolist(), round(float(theta[0]), 3), a_right.tolist()
    ([0], 0.219, [True])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from norep.analysis.bootstrap import (
    Interval,
    bootstrap_sums,
    group_order,
    group_sums,
    nanquantile,
    percentile_interval,
    stored_weights,
    weighted_means,
)
from norep.analysis.power import detectable_difference
from norep.zoo import CATEGORIES


def confidence_angles(conf_a: np.ndarray, conf_b: np.ndarray, correct_a: np.ndarray,
                      correct_b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the angle theta on the examples exactly one model gets right.

    Args:
        conf_a: Top-1 confidences of model a, shape (M,).
        conf_b: Top-1 confidences of model b, shape (M,).
        correct_a: Whether a is right (False where it did not answer).
        correct_b: Whether b is right.

    Returns:
        The example indices, theta = arctan2(conf_b, conf_a) there, and whether a is
        the one that is right.
    """
    correct_a, correct_b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    rows = np.flatnonzero(correct_a != correct_b)
    return rows, np.arctan2(np.asarray(conf_b)[rows], np.asarray(conf_a)[rows]), correct_a[rows]


def subdomain_differences(correct_a: np.ndarray, correct_b: np.ndarray, groups: np.ndarray,
                          valid: np.ndarray | None = None, n_boot: int = 1000, level: float = 0.95,
                          seed: int = 0, missing: str | None = None) -> pd.DataFrame:
    """Accuracy difference of two models per subdomain, with paired bootstrap intervals.

    The same as :func:`subdomain_differences_many` for the one pair (a, b), without the
    model columns; to compare many pairs, call that function once instead: it draws the
    bootstrap resamples once for all pairs and gives identical numbers.

    Args:
        correct_a: Whether model a is right, shape (M,).
        correct_b: Whether model b is right, shape (M,).
        groups: The subdomain of each example (any values; NaN or None where unknown),
            shape (M,).
        valid: Examples both models answered; all when None.
        n_boot: Number of bootstrap samples.
        level: Coverage of the intervals.
        seed: Seed of the resampling.
        missing: What to do with examples whose subdomain is missing: None (the
            default) leaves them out; a name reports them as one more group of that
            name, after the others.

    Returns:
        One row per subdomain (sorted): group, n, acc_a, acc_b, difference
        (acc_a - acc_b), low, high.
    """
    correct = np.stack([np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)])
    table = subdomain_differences_many(correct, groups, [(0, 1)], valid, n_boot, level, seed, missing)
    return table.drop(columns=["model_a", "model_b"])


def subdomain_differences_many(correct: np.ndarray, groups: np.ndarray, pairs: np.ndarray | None = None,
                               valid: np.ndarray | None = None, n_boot: int = 1000, level: float = 0.95,
                               seed: int = 0, missing: str | None = None,
                               model_ids: list[str] | None = None) -> pd.DataFrame:
    """Per-subdomain accuracy differences of many pairs of models in one call.

    Pairs whose kept examples are the same (every pair, when all models answered every
    example) share one set of bootstrap resamples: it is drawn once and the sums of all
    those pairs come from the same matrix products. The numbers are identical to calling
    :func:`subdomain_differences` pair by pair with the same seed (the bootstrap sums
    are exact integers).

    Args:
        correct: Whether each model is right, shape (N, M).
        groups: The subdomain of each example (any values; NaN or None where unknown),
            shape (M,).
        pairs: Model index pairs (a, b), shape (P, 2); all pairs i < j by default. For
            many models against one reference, pass ``[(ref, m) for m in others]``.
        valid: Where each model answered, shape (N, M), or examples every model answered,
            shape (M,); all when None. A pair keeps the examples both models answered.
        n_boot: Number of bootstrap samples.
        level: Coverage of the intervals.
        seed: Seed of the resampling.
        missing: What to do with examples whose subdomain is missing: None (the
            default) leaves them out; a name reports them as one more group of that
            name, after the others.
        model_ids: Names of the N models for the model columns; row indices by default.

    Returns:
        One row per pair and subdomain, pairs in the given order and subdomains sorted:
        model_a, model_b, group, n, acc_a, acc_b, difference (acc_a - acc_b), low, high.

    Example:
        >>> correct = np.array([[1, 1, 0, 1], [1, 0, 0, 0], [0, 1, 1, 1]], dtype=bool)
        >>> table = subdomain_differences_many(correct, ["x", "x", "y", None], [(0, 1), (0, 2)], n_boot=20)
        >>> table[["model_a", "model_b", "group", "n", "difference"]].values.tolist()
        [[0, 1, 'x', 2, 0.5], [0, 1, 'y', 1, 0.0], [0, 2, 'x', 2, 0.5], [0, 2, 'y', 1, -1.0]]
    """
    correct = np.asarray(correct, dtype=bool)
    if correct.ndim != 2:
        raise ValueError(f"correctness must have shape (models, examples), got {correct.shape}")
    n_models, n_examples = correct.shape
    groups = groups if isinstance(groups, np.ndarray) else np.asarray(groups, dtype=object)
    if groups.shape != (n_examples,):
        raise ValueError(f"groups has shape {groups.shape}, correctness {correct.shape}: "
                         "one subdomain per example")
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape not in ((n_examples,), correct.shape):
            raise ValueError(f"valid has shape {valid.shape}; use {(n_examples,)} or {correct.shape}")
        valid = valid.reshape(-1, n_examples)
    pairs = (np.stack(np.triu_indices(n_models, 1), axis=1) if pairs is None
             else np.asarray(pairs, dtype=int).reshape(-1, 2))
    absent = np.asarray(pd.isna(groups), dtype=bool)
    names = list(range(n_models)) if model_ids is None else list(model_ids)

    shared: dict[bytes, tuple[np.ndarray, list[int]]] = {}  # pairs by the examples they keep
    for index, (a, b) in enumerate(pairs):
        keep = ~absent if missing is None else np.ones(n_examples, dtype=bool)
        if valid is not None:
            keep = keep & (valid[0] if len(valid) == 1 else valid[a] & valid[b])
        shared.setdefault(np.packbits(keep).tobytes(), (keep, []))[1].append(index)
    tables: list[pd.DataFrame | None] = [None] * len(pairs)
    for keep, members in shared.values():
        for index, table in zip(members, _shared_differences(correct, pairs[members], groups, absent, keep,
                                                             n_boot, level, seed, missing)):
            a, b = pairs[index]
            table.insert(0, "model_a", names[a])
            table.insert(1, "model_b", names[b])
            tables[index] = table
    columns = ["model_a", "model_b", "group", "n", "acc_a", "acc_b", "difference", "low", "high"]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=columns)


_SUM_BUDGET = 1 << 24  # bootstrap sums (B x groups x pairs) held at once; pairs are chunked


def _shared_differences(correct: np.ndarray, pairs: np.ndarray, groups: np.ndarray, absent: np.ndarray,
                        keep: np.ndarray, n_boot: int, level: float, seed: int,
                        missing: str | None) -> list[pd.DataFrame]:
    """Subdomain tables of pairs that keep the same examples, from one set of resamples."""
    rows = np.flatnonzero(keep)
    codes, names = _subdomain_codes(groups[rows], absent[rows], missing)
    n_groups = len(names)
    n = np.bincount(codes, minlength=n_groups).astype(float)
    right_a, right_b = correct[pairs[:, 0]][:, rows], correct[pairs[:, 1]][:, rows]
    # per pair: sum of correct_a - correct_b over the examples of each group
    difference = right_a.astype(np.int8) - right_b.astype(np.int8)
    order, starts = group_order(codes, n_groups)
    position = np.empty(len(rows), dtype=np.intp)
    position[order] = np.arange(len(rows))
    chunk = max(1, _SUM_BUDGET // max(1, n_boot * n_groups) - 1)
    weights = None if len(pairs) <= chunk or not len(rows) else stored_weights(len(rows), n_boot, seed, position)
    tail = (1 - level) / 2
    tables = []
    for start in range(0, len(pairs), chunk):
        part = slice(start, start + chunk)
        values = np.column_stack([np.ones(len(rows)), difference[part].T.astype(np.float64)])
        if not len(rows):
            samples = np.empty((n_boot, 0, values.shape[1] - 1))
        else:
            if weights is None:
                sums = bootstrap_sums(values, n_boot, seed, groups=codes)
            else:
                sums = np.concatenate([group_sums(w, values[order], starts) for w in weights])
            with np.errstate(invalid="ignore", divide="ignore"):
                samples = sums[..., 1:] / sums[..., :1]  # (B, G, pairs)
        low, high = nanquantile(samples, (tail, 1 - tail))
        for column, (a_right, b_right) in enumerate(zip(right_a[part], right_b[part])):
            sum_a = np.bincount(codes, weights=a_right, minlength=n_groups)
            sum_b = np.bincount(codes, weights=b_right, minlength=n_groups)
            tables.append(pd.DataFrame({
                "group": names, "n": n.astype(int), "acc_a": sum_a / n, "acc_b": sum_b / n,
                "difference": (sum_a - sum_b) / n, "low": low[:, column], "high": high[:, column],
            }))
    return tables


def _subdomain_codes(values: np.ndarray, absent: np.ndarray, missing: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Code 0..G-1 per example for the sorted subdomains present; examples with a missing
    subdomain (kept only when ``missing`` names them) get the last code."""
    codes = np.full(len(values), -1, dtype=np.intp)
    present, names = pd.factorize(values[~absent], sort=True)
    codes[~absent] = present
    names = np.asarray(names)
    if absent.any():
        codes[absent] = len(names)
        names = np.append(names.astype(object), missing)
    return codes, names


def confident_right_share(exactly_one: np.ndarray, confident_right: np.ndarray, n_boot: int = 1000,
                          seed: int = 0, level: float = 0.95) -> Interval:
    """Share (%) of each pair's exactly-one-right examples where the right model is the more confident.

    Every pair is resampled with the same bootstrap draws of the examples (a paired
    bootstrap), so differences between pairs get intervals from the samples.

    Args:
        exactly_one: Per pair, the examples exactly one model gets right, shape (P, M).
        confident_right: Per pair, the examples where the model that is right is also the
            more confident one (a subset of ``exactly_one``), shape (P, M).
        n_boot: Number of bootstrap samples.
        seed: Seed of the resampling.
        level: Coverage of the intervals.

    Returns:
        The shares in percent, shape (P,), with intervals and samples (B, P); NaN for a
        resample without an exactly-one-right example.

    Example:
        >>> one = np.array([[1, 1, 1, 1, 0]], bool)
        >>> share = confident_right_share(one, np.array([[1, 1, 1, 0, 0]], bool), n_boot=10)
        >>> share.estimate.tolist()
        [75.0]
    """
    exactly_one = np.asarray(exactly_one, dtype=bool).reshape(-1, np.shape(exactly_one)[-1])
    confident_right = np.asarray(confident_right, dtype=bool).reshape(exactly_one.shape)
    values = np.zeros((exactly_one.shape[1], 2 * len(exactly_one)))
    values[:, 0::2], values[:, 1::2] = exactly_one.T, confident_right.T
    sums, samples = values.sum(axis=0), bootstrap_sums(values, n_boot, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        share_samples = 100 * samples[:, 1::2] / samples[:, 0::2]
        return percentile_interval(100 * sums[1::2] / sums[0::2], share_samples, level)


def class_spread(correct: np.ndarray, groups: np.ndarray, pairs: np.ndarray, n_boot: int = 1000,
                 seed: int = 0, level: float = 0.95) -> Interval:
    """Spread across groups of the accuracy difference of each pair (a, b), in points.

    The spread of a pair is the standard deviation (ddof 1), across the groups (e.g. the
    classes), of the per-group accuracy differences acc_a - acc_b, times 100. Bootstrap
    samples come from the same resamples of the examples for every pair.

    Args:
        correct: Whether each model is right, shape (N, M) (False where it did not answer).
        groups: The group of each example (any sortable values), shape (M,).
        pairs: Model index pairs (a, b), shape (P, 2).
        n_boot: Number of bootstrap samples.
        seed: Seed of the resampling.
        level: Coverage of the intervals.

    Returns:
        The spread per pair, shape (P,), with intervals and samples (B, P).

    Example:
        >>> correct = np.array([[1] * 20 + [0] * 20, [1, 0] * 20], bool)
        >>> spread = class_spread(correct, np.repeat(["x", "y"], 20), [(0, 1)], n_boot=5)
        >>> round(float(spread.estimate[0]), 2)   # differences +50 and -50 points
        70.71
    """
    correct = np.asarray(correct, dtype=np.float64)
    first, second = np.asarray(pairs, dtype=int).reshape(-1, 2).T
    codes, _ = pd.factorize(np.asarray(groups), sort=True)
    values = np.column_stack([np.ones(len(codes)), correct.T])
    sums = bootstrap_sums(values, n_boot, seed, groups=codes)  # (B, groups, 1 + N)
    full = np.stack([np.bincount(codes, weights=v, minlength=sums.shape[1]) for v in values.T], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = 100 * np.std((full[:, 1 + first] - full[:, 1 + second]) / full[:, :1], axis=0, ddof=1)
        samples = 100 * np.nanstd((sums[..., 1 + first] - sums[..., 1 + second]) / sums[..., :1], axis=1, ddof=1)
    return percentile_interval(estimate, samples, level)


def pair_mean(estimate: np.ndarray, samples: np.ndarray, mask: np.ndarray, weights: np.ndarray | None = None,
              level: float = 0.95) -> Interval:
    """The mean of a pair value over some pairs, with its interval.

    Without ``weights`` every sample averages the pairs alike: the interval holds the
    example variance only. With pair weights from redrawn models (see
    :func:`norep.analysis.bootstrap.pair_weights`), sample b averages the pairs with
    weights ``weights[b]``: the interval is crossed, with model and example variance.
    A sample whose pairs all weigh 0, or are NaN, is NaN and ignored.

    Args:
        estimate: The value of each pair, shape (P,).
        samples: Its bootstrap values on shared example resamples, shape (B, P).
        mask: The pairs to average, shape (P,).
        weights: Optional pair weights, shape (B, P).
        level: Coverage of the interval.

    Returns:
        The mean, its interval and its samples (B,).

    Example:
        >>> mean = pair_mean(np.array([1.0, 3.0]), np.array([[1.0, 3.0], [1.0, 3.0]]), np.ones(2, bool),
        ...                  np.array([[2, 0], [1, 1]]))
        >>> float(mean.estimate), mean.samples.tolist()
        (2.0, [1.0, 2.0])
    """
    mask = np.asarray(mask, dtype=bool)
    estimate, samples = np.asarray(estimate, dtype=np.float64), np.asarray(samples, dtype=np.float64)
    weights = np.ones(samples.shape) if weights is None else np.asarray(weights)
    draws = weighted_means(samples[:, mask], weights[:, mask])
    return percentile_interval(np.asarray(estimate[mask].mean()), draws, level)


@dataclass(frozen=True)
class CategoryTrend:
    """Category means of a pair value over a set of pairs, and their trend with divergence.

    Attributes:
        means: Per category present (Reinit to Dataset): the mean over its pairs, with a
            percentile interval of the mean on every sample (see :func:`pair_mean`:
            crossed when the trend was given model weights).
        pairs: Per category, the number of pairs averaged.
        n: Pairs with a category in the set.
        rho: Spearman's rho between the category's level (Reinit = 1 ... Dataset = 5)
            and the pair value; NaN with fewer than two categories or a constant value.
        top: The most divergent categories present: Framework and Dataset (those of them
            present), else the highest one.
        contrast: Mean over ``top`` minus the Reinit mean, with its interval; None
            without Reinit pairs or when Reinit is the top.
        detectable: The smallest contrast detectable at 80% power with these numbers of
            pairs (one model each) and the spread of their values
            (:func:`norep.analysis.power.detectable_difference`; the ``top`` pairs pooled);
            NaN without a contrast or with fewer than 2 pairs on a side.
    """

    means: dict[str, Interval]
    pairs: dict[str, int]
    n: int
    rho: float
    top: list[str]
    contrast: Interval | None
    detectable: float = float("nan")


def category_trend(categories: np.ndarray, estimate: np.ndarray, samples: np.ndarray, keep: np.ndarray,
                   level: float = 0.95, weights: np.ndarray | None = None) -> CategoryTrend:
    """Mean of a pair value per divergence category and its trend with divergence.

    Args:
        categories: The divergence category of each pair (None where undecided), shape (P,).
        estimate: The value of each pair, shape (P,).
        samples: Its bootstrap values on shared resamples, shape (B, P).
        keep: Which pairs count (e.g. in the band and not an accuracy control), shape (P,).
        level: Coverage of the intervals.
        weights: Optional pair weights from redrawn models, shape (B, P): the means and
            the contrast then get crossed intervals (see :func:`pair_mean`).

    Returns:
        The category means and the trend.

    Example:
        >>> trend = category_trend(np.array(["Reinit", "Dataset", "Dataset"]), np.array([1.0, 3.0, 5.0]),
        ...                        np.array([[1.0, 3.0, 5.0], [2.0, 2.0, 4.0]]), np.ones(3, bool))
        >>> float(trend.means["Dataset"].estimate), float(trend.contrast.estimate), trend.top
        (4.0, 3.0, ['Dataset'])
    """
    categories = np.asarray(categories, dtype=object)
    estimate, samples = np.asarray(estimate, dtype=np.float64), np.asarray(samples, dtype=np.float64)
    keep = np.asarray(keep, dtype=bool)
    masks = {c: keep & (categories == c) for c in CATEGORIES if (keep & (categories == c)).any()}
    means = {c: pair_mean(estimate, samples, mask, weights, level) for c, mask in masks.items()}
    pairs = {c: int(mask.sum()) for c, mask in masks.items()}
    top = [c for c in ("Framework", "Dataset") if c in means] or [c for c in CATEGORIES[::-1] if c in means][:1]
    contrast, detectable = None, float("nan")
    if "Reinit" in means and top != ["Reinit"]:
        contrast = percentile_interval(
            np.asarray(np.mean([means[c].estimate for c in top]) - means["Reinit"].estimate),
            np.mean([means[c].samples for c in top], axis=0) - means["Reinit"].samples, level)
        pooled, reinit = estimate[np.any([masks[c] for c in top], axis=0)], estimate[masks["Reinit"]]
        if min(len(pooled), len(reinit)) >= 2:
            detectable = detectable_difference(np.std(pooled, ddof=1), len(pooled), np.std(reinit, ddof=1),
                                               len(reinit), level)
    decided = keep & pd.notna(categories)
    rank = {c: i for i, c in enumerate(CATEGORIES)}
    levels = np.array([rank[c] for c in categories[decided]])
    varies = len(set(levels)) > 1 and np.ptp(estimate[decided]) > 0  # else rho is undefined
    rho = spearmanr(levels, estimate[decided]).statistic if varies else np.nan
    return CategoryTrend(means, pairs, int(decided.sum()), float(rho), top, contrast, detectable)
