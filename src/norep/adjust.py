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

import itertools

import numpy as np
import pandas as pd

from norep.errors import NorepError
from norep.metrics import PAIR_METRICS, bootstrap_pair_counts, percentile_interval, zoo_correctness
from norep.store import Store


def band_models(store: Store, low: float, high: float, split: str = "test",
                model_ids: list[str] | None = None) -> list[str]:
    """Return the models whose accuracy on ``split`` lies in [low, high].

    Args:
        store: The prediction store.
        low: Lowest accuracy kept (fraction).
        high: Highest accuracy kept (fraction).
        split: The split accuracies are measured on (examples a model answered).
        model_ids: Models to choose from; all by default.

    Returns:
        The models in the band, in store order.
    """
    outcomes = zoo_correctness(store, split, model_ids)
    inside = (outcomes.accuracy >= low) & (outcomes.accuracy <= high)
    return [m for m, keep in zip(outcomes.model_ids, inside) if keep]


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
        metric: A name from :data:`norep.metrics.PAIR_METRICS`.
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


def adjusted_diversity(store: Store, pairs: list[tuple[str, str]] | None = None,
                       reference: list[tuple[str, str]] | None = None, metric: str = "kappa",
                       split: str = "test", n_boot: int = 1000, level: float = 0.95,
                       seed: int = 0) -> pd.DataFrame:
    """Accuracy-adjusted pair metric of a store (see the module docstring).

    Args:
        store: The prediction store.
        pairs: (model_a, model_b) pairs to report; every pair of the store by default.
        reference: Pairs the accuracy fit uses; every pair of the store by default.
        metric: A name from :data:`norep.metrics.PAIR_METRICS`.
        split: The split.
        n_boot: Number of bootstrap samples.
        level: Coverage of the intervals.
        seed: Seed of the resampling.

    Returns:
        One row per pair: model_a, model_b, acc_a, acc_b, the metric, expected,
        adjusted, low, high.
    """
    everything = list(itertools.combinations(store.model_ids, 2))
    pairs, reference = pairs or everything, reference or everything
    model_ids = list(dict.fromkeys(m for pair in pairs + reference for m in pair))
    outcomes = zoo_correctness(store, split, model_ids)
    index = {m: i for i, m in enumerate(model_ids)}
    result = accuracy_adjusted(outcomes.correct, [(index[a], index[b]) for a, b in pairs],
                               [(index[a], index[b]) for a, b in reference], metric,
                               outcomes.predictions, outcomes.valid, n_boot, level, seed)
    accuracy = outcomes.accuracy
    return pd.DataFrame({
        "model_a": [a for a, _ in pairs], "model_b": [b for _, b in pairs],
        "acc_a": [accuracy[index[a]] for a, _ in pairs], "acc_b": [accuracy[index[b]] for _, b in pairs],
        metric: result["value"], "expected": result["expected"], "adjusted": result["adjusted"],
        "low": result["low"], "high": result["high"],
    })
