r"""Accuracy-adjusted diversity: does an effect survive once accuracy is accounted for?

Error inconsistency rises mechanically as accuracy falls: two independent models of
accuracy 0.5 disagree about correctness on half the examples, two of accuracy 0.99 on
about 2%. Kappa corrects for chance but still drifts with accuracy in real zoos. Two
tools separate methodology from strength:

- an **accuracy band**: keep only the models whose accuracy lies in [low, high] (the
  paper compares models within 74-78% top-1) and run any analysis on them;
- an **adjustment**: fit, by least squares over reference pairs (for example pairs of
  accuracy-control models, or every pair of the zoo),

  .. math::

     \mathrm{metric} \approx \beta_0 + \beta_1 \frac{\mathrm{acc}_a + \mathrm{acc}_b}{2}
     + \beta_2 \, |\mathrm{acc}_a - \mathrm{acc}_b|,

  and report for each pair of interest the residual, the metric minus the fitted
  value: what is left of the pair's diversity once its accuracies are accounted for.
  The interval is a paired bootstrap over examples that refits on every resample, so
  it includes the fit's own uncertainty due to the examples (the residuals' samples
  are returned, for category means with crossed intervals). An effect survives
  accuracy matching when the residuals still differ between categories.

A fit on few reference models depends on which models they are:
:func:`leave_one_model_out` refits without each reference model in turn, and the
spread of those refits (of the coefficients and of the residuals) shows it. A pair
whose accuracies lie outside the range of the reference models' accuracies is
**extrapolated** (:func:`extrapolated`): its residual rests on the fitted line beyond
the data that made it.

Example:
    >>> keep = band_models(store, 0.74, 0.78)                                   # doctest: +SKIP
    >>> adjusted_diversity(store, pairs=[("base", m) for m in keep if m != "base"],
    ...                    metric="kappa")                                       # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from norep.analysis.bootstrap import percentile_interval
from norep.analysis.pairs import PAIR_METRICS, bootstrap_pair_counts, pair_counts
from norep.errors import NorepError


def _features(accuracy_a: np.ndarray, accuracy_b: np.ndarray) -> np.ndarray:
    """Design matrix ``[1, mean accuracy, |accuracy gap|]``, shape (..., 3)."""
    return np.stack([np.ones_like(accuracy_a), (accuracy_a + accuracy_b) / 2,
                     np.abs(accuracy_a - accuracy_b)], axis=-1)


def _least_squares(design: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Coefficients of ``target`` on ``design`` (shapes (..., R, 3) and (..., R)), shape (..., 3);
    NaN where the design has a non-finite entry (a resample in which a pair has no examples)."""
    usable = np.isfinite(design).all(axis=(-2, -1))[..., None, None]
    solved = np.linalg.pinv(np.where(usable, design, 0.0)) @ target[..., :, None]
    return np.where(usable, solved, np.nan)[..., 0]


def _check_reference(value: np.ndarray, metric: str) -> np.ndarray:
    """Which reference pairs have a defined metric; at least 3 must."""
    fitted = np.isfinite(value)
    if fitted.sum() < 3:
        raise NorepError(f"the accuracy fit needs at least 3 reference pairs with a defined {metric}, "
                         f"got {int(fitted.sum())}; give more reference pairs")
    return fitted


def _check_metric(metric: str) -> None:
    """Raise a ValueError for a name that is not a pair metric."""
    if metric not in PAIR_METRICS:
        raise ValueError(f"unknown pair metric {metric!r}; use one of {PAIR_METRICS}")


def _pairs(pairs: np.ndarray) -> np.ndarray:
    """Model index pairs as an integer array, shape (P, 2)."""
    return np.asarray(pairs, dtype=int).reshape(-1, 2)


def accuracy_adjusted(correct: np.ndarray, pairs: np.ndarray, reference: np.ndarray,
                      metric: str = "kappa", predictions: np.ndarray | None = None,
                      valid: np.ndarray | None = None, n_boot: int = 1000, level: float = 0.95,
                      seed: int = 0) -> dict[str, np.ndarray]:
    """A pair metric minus what the pair's accuracies predict from a fit over reference pairs.

    Args:
        correct: Top-1 correctness, shape (N, M).
        pairs: Model index pairs to adjust, shape (P, 2).
        reference: Model index pairs to fit on, shape (R, 2); pairs whose metric is
            undefined (NaN) are left out; at least 3 must remain.
        metric: A name from :data:`norep.analysis.pairs.PAIR_METRICS`.
        predictions: Top-1 labels, needed for ``disagreement``.
        valid: Where each model answered; all when None.
        n_boot: Number of bootstrap samples.
        level: Coverage of the intervals.
        seed: Seed of the resampling.

    Returns:
        Arrays over the P pairs: ``value`` (the metric), ``expected`` (the fit's value
        at the pair's accuracies), ``adjusted`` (value - expected), ``low`` and ``high``
        (interval of ``adjusted``), ``samples`` (``adjusted`` on every resample, refit
        each time, shape (B, P)) and ``extrapolated`` (see :func:`extrapolated`);
        ``reference_range`` (the lowest and highest accuracy of a fitted reference
        pair's model) and ``coefficients`` (b0, b1, b2).
    """
    _check_metric(metric)
    pairs, reference = _pairs(pairs), _pairs(reference)
    full, boot = bootstrap_pair_counts(correct, predictions, valid, np.concatenate([pairs, reference]),
                                       n_boot, seed)
    fitted = _check_reference(getattr(full, metric)[len(pairs):], metric)
    keep = np.concatenate([np.ones(len(pairs), bool), fitted])

    def residuals(counts):
        value = getattr(counts, metric)[..., keep]
        design = _features(counts.accuracy[..., keep], counts.accuracy_b[..., keep])
        coefficients = _least_squares(design[..., len(pairs):, :], value[..., len(pairs):])
        expected = (design[..., :len(pairs), :] @ coefficients[..., :, None])[..., 0]
        return value[..., :len(pairs)], expected, coefficients

    value, expected, coefficients = residuals(full)
    boot_value, boot_expected, _ = residuals(boot)
    interval = percentile_interval(value - expected, boot_value - boot_expected, level)
    accuracy = np.concatenate([full.accuracy[len(pairs):][fitted], full.accuracy_b[len(pairs):][fitted]])
    return {"value": value, "expected": expected, "adjusted": interval.estimate,
            "low": interval.low, "high": interval.high, "samples": interval.samples,
            "extrapolated": extrapolated(full.accuracy[:len(pairs)], full.accuracy_b[:len(pairs)], accuracy),
            "reference_range": np.array([accuracy.min(), accuracy.max()]), "coefficients": coefficients}


def extrapolated(accuracy_a: np.ndarray, accuracy_b: np.ndarray, reference_accuracy: np.ndarray) -> np.ndarray:
    """Whether a pair's accuracies leave the range of the reference models' accuracies.

    The fit sees mean accuracies and gaps only where its reference models put them; a
    pair with an accuracy below the weakest or above the strongest reference model is
    read off the line beyond its data.

    Args:
        accuracy_a: The first model's accuracy in each pair, shape (P,).
        accuracy_b: The second model's accuracy, shape (P,).
        reference_accuracy: The accuracies of the reference models (any shape).

    Returns:
        Shape (P,): True where either accuracy lies outside [min, max] of the reference.

    Example:
        >>> extrapolated(np.array([0.85, 0.85]), np.array([0.84, 0.70]), np.array([0.82, 0.88])).tolist()
        [False, True]
    """
    low, high = np.nanmin(reference_accuracy), np.nanmax(reference_accuracy)
    accuracy = np.stack([np.asarray(accuracy_a, float), np.asarray(accuracy_b, float)])
    return ((accuracy < low) | (accuracy > high)).any(axis=0)


def leave_one_model_out(correct: np.ndarray, pairs: np.ndarray, reference: np.ndarray,
                        metric: str = "kappa", predictions: np.ndarray | None = None,
                        valid: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Refit the accuracy fit without each reference model in turn, on all examples.

    Model k is left out by dropping every reference pair it is part of; the fit and the
    residuals of ``pairs`` are redone on the rest (NaN when fewer than 3 pairs with a
    defined metric remain).

    Args:
        correct: Top-1 correctness, shape (N, M).
        pairs: Model index pairs to adjust, shape (P, 2).
        reference: Model index pairs to fit on, shape (R, 2) (see :func:`accuracy_adjusted`).
        metric: A name from :data:`norep.analysis.pairs.PAIR_METRICS`.
        predictions: Top-1 labels, needed for ``disagreement``.
        valid: Where each model answered; all when None.

    Returns:
        ``models``: the reference models, shape (K,), in increasing order; per model
        left out, ``coefficients`` (K, 3) and ``adjusted`` (K, P), the pairs' residuals.

    Example:
        >>> out = leave_one_model_out(correct, pairs, reference, "error_inconsistency")  # doctest: +SKIP
        >>> out["coefficients"].min(axis=0), out["coefficients"].max(axis=0)             # doctest: +SKIP
    """
    _check_metric(metric)
    pairs, reference = _pairs(pairs), _pairs(reference)
    every = np.concatenate([pairs, reference]).T
    counts = pair_counts(correct, predictions, valid)
    value = getattr(counts, metric)[every[0], every[1]]
    design = _features(counts.accuracy[every[0], every[1]], counts.accuracy_b[every[0], every[1]])
    fitted = _check_reference(value[len(pairs):], metric)
    models = np.unique(reference)
    coefficients = np.full((len(models), 3), np.nan)
    for k, model in enumerate(models):
        kept = fitted & (reference != model).all(axis=1)
        if kept.sum() >= 3:
            coefficients[k] = _least_squares(design[len(pairs):][kept], value[len(pairs):][kept])
    adjusted = value[:len(pairs)] - coefficients @ design[:len(pairs)].T
    return {"models": models, "coefficients": coefficients, "adjusted": adjusted}
