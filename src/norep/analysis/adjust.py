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
  it includes the fit's own uncertainty. An effect survives accuracy matching when the
  residuals still differ between categories.

Example:
    >>> keep = band_models(store, 0.74, 0.78)                                   # doctest: +SKIP
    >>> adjusted_diversity(store, pairs=[("base", m) for m in keep if m != "base"],
    ...                    metric="kappa")                                       # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from norep.analysis.bootstrap import percentile_interval
from norep.analysis.pairs import PAIR_METRICS, bootstrap_pair_counts
from norep.errors import NorepError


def _features(accuracy_a: np.ndarray, accuracy_b: np.ndarray) -> np.ndarray:
    """Design matrix ``[1, mean accuracy, |accuracy gap|]``, shape (..., 3)."""
    return np.stack([np.ones_like(accuracy_a), (accuracy_a + accuracy_b) / 2,
                     np.abs(accuracy_a - accuracy_b)], axis=-1)


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
        (interval of ``adjusted``), and ``coefficients`` (b0, b1, b2).
    """
    if metric not in PAIR_METRICS:
        raise ValueError(f"unknown pair metric {metric!r}; use one of {PAIR_METRICS}")
    pairs = np.asarray(pairs, dtype=int).reshape(-1, 2)
    reference = np.asarray(reference, dtype=int).reshape(-1, 2)
    full, boot = bootstrap_pair_counts(correct, predictions, valid, np.concatenate([pairs, reference]),
                                       n_boot, seed)
    fitted = np.isfinite(getattr(full, metric)[len(pairs):])
    if fitted.sum() < 3:
        raise NorepError(f"the accuracy fit needs at least 3 reference pairs with a defined {metric}, "
                         f"got {int(fitted.sum())}; give more reference pairs")
    keep = np.concatenate([np.ones(len(pairs), bool), fitted])

    def residuals(counts):
        value = getattr(counts, metric)[..., keep]
        design = _features(counts.accuracy[..., keep], counts.accuracy_b[..., keep])
        target, ref = design[..., :len(pairs), :], design[..., len(pairs):, :]
        # a resample in which a reference pair has no examples gets NaN, not an error
        usable = np.isfinite(ref).all(axis=(-2, -1))[..., None, None]
        solved = np.linalg.pinv(np.where(usable, ref, 0.0)) @ value[..., len(pairs):, None]
        coefficients = np.where(usable, solved, np.nan)[..., 0]
        expected = (target @ coefficients[..., :, None])[..., 0]
        return value[..., :len(pairs)], expected, coefficients

    value, expected, coefficients = residuals(full)
    boot_value, boot_expected, _ = residuals(boot)
    interval = percentile_interval(value - expected, boot_value - boot_expected, level)
    return {"value": value, "expected": expected, "adjusted": interval.estimate,
            "low": interval.low, "high": interval.high, "coefficients": coefficients}
