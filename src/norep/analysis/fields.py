r"""Which difference matters: pair metrics regressed on the methodology fields that differ.

The divergence categories answer "how far apart" two training methods are; this answers
"which difference matters". Over every pair of models (i, j), a least-squares fit

.. math::

    y_{ij} = b_0 + \sum_f b_f \, [\text{field } f \text{ differs}]
             + b_{\bar p} \, \frac{p_i + p_j}{2} + b_{\Delta p} \, |p_i - p_j|

of a pair metric y (kappa or error inconsistency) on one indicator per methodology field
and the pair's two accuracy terms: :math:`b_f` is what a difference in field f adds,
the other fields and the accuracies held fixed.

Pairs that share a model are not independent, so the intervals come from a bootstrap
over **models**: each sample redraws the models with replacement and weights every pair
by how often both of its models were drawn (a weighted least-squares refit). A field
that never varies in a sample leaves its coefficient undefined there (NaN, ignored).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from norep.analysis.bootstrap import model_weights, nanquantile, pair_weights

ACCURACY_TERMS = ("mean accuracy", "accuracy gap")
"""The two accuracy covariates: the mean of the two accuracies and the absolute difference."""


@dataclass(frozen=True)
class FieldEffects:
    """The fitted effect of each methodology field on a pair metric.

    Attributes:
        table: One row per term (the fields, then :data:`ACCURACY_TERMS`) with columns
            ``estimate``, ``low``, ``high`` (model-bootstrap interval) and ``pairs``
            (how many pairs differ in that field; for accuracy terms, every pair).
        samples: The coefficients on each bootstrap sample, shape (B, terms).
        n_models: Models in the fit.
    """

    table: pd.DataFrame
    samples: np.ndarray
    n_models: int


def field_effects(metric: np.ndarray, differs: np.ndarray, accuracy: np.ndarray, pairs: np.ndarray,
                  fields: Sequence[str], n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> FieldEffects:
    """Fit a pair metric on field-difference indicators and accuracy terms, with a model bootstrap.

    Args:
        metric: The metric of each pair, shape (P,).
        differs: Whether each pair differs in each field, shape (P, F), 0/1.
        accuracy: Each model's accuracy, shape (N,).
        pairs: The two model indices of each pair, shape (P, 2).
        fields: The F field names, for the table.
        n_boot: Bootstrap samples B (models redrawn with replacement).
        seed: Seed of the draws.
        level: Coverage of the intervals.

    Returns:
        The effects.

    Example:
        >>> effects = field_effects(kappa, differs, accuracy, pairs, FIELDS)   # doctest: +SKIP
        >>> effects.table.loc["architecture", ["estimate", "low", "high"]]       # doctest: +SKIP
    """
    pairs = np.asarray(pairs, dtype=int)
    accuracy = np.asarray(accuracy, dtype=float)
    first, second = accuracy[pairs[:, 0]], accuracy[pairs[:, 1]]
    design = np.column_stack([np.ones(len(pairs)), np.asarray(differs, dtype=float),
                              (first + second) / 2, np.abs(first - second)])
    y = np.asarray(metric, dtype=float)
    estimate = _weighted_fit(design, y, np.ones(len(pairs)))
    weights = pair_weights(model_weights(["all"] * len(accuracy), n_boot, seed), pairs[:, 0], pairs[:, 1])
    samples = np.array([_weighted_fit(design, y, w) for w in weights])
    tail = (1 - level) / 2
    low, high = nanquantile(samples, (tail, 1 - tail))
    terms = [*fields, *ACCURACY_TERMS]
    counts = [*np.asarray(differs).sum(axis=0).astype(int), len(pairs), len(pairs)]
    table = pd.DataFrame({"estimate": estimate[1:], "low": low[1:], "high": high[1:], "pairs": counts},
                         index=pd.Index(terms, name="term"))
    return FieldEffects(table=table, samples=samples[:, 1:], n_models=len(accuracy))


def _weighted_fit(design: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least squares; NaN for coefficients the weighted design cannot identify."""
    kept = weights > 0
    x, target, w = design[kept], y[kept], np.sqrt(weights[kept])[:, None]
    varying = np.r_[True, np.ptp(x[:, 1:], axis=0) > 0] if len(x) else np.zeros(design.shape[1], bool)
    coefficients = np.full(design.shape[1], np.nan)
    if len(x) > varying.sum():
        solution, _, rank, _ = np.linalg.lstsq(x[:, varying] * w, target * w[:, 0], rcond=None)
        if rank == varying.sum():
            coefficients[varying] = solution
    return coefficients
