r"""Multi-label sets (Pascal VOC): 11-point average precision and one-vs-rest linear probes.

**11-point average precision** (Pascal VOC 2007's classification measure, the paper's
Fig 7). For one class, the examples are sorted by score, highest first (ties keep
their order), and the top k of them have a precision and a recall for every k. The AP
is the mean, over the 11 thresholds t = 0, 0.1, ..., 1, of the highest precision at a
recall of at least t (0 where no k reaches t):

.. math::

   \mathrm{AP} = \frac{1}{11} \sum_{t \in \{0, 0.1, \dots, 1\}} \max_{k:\ \mathrm{recall}_k \ge t}
   \mathrm{precision}_k

Examples flagged as ignored for the class (VOC's "difficult" ones) are neither positives
nor negatives. "Recall at least t" is compared exactly, as ``10 * TP >= k * P`` in
counts: VOC's MATLAB code and its numpy ports compare floats (``3 / 10 < 0.1 * 3``),
so they can differ from it, and from each other, when a recall equals a threshold. A class
without positives has no AP (NaN); the mAP is the mean over the classes that have one.
Weights (bootstrap multiplicities) count an example as that many copies of itself.

**One-vs-rest probes**: one binary probe per class, a 2-class
:func:`norep.analysis.probes.train_probe` (the same L-BFGS fit; the class's score is the
difference of its two logits). One penalty serves every class: the one of a grid with
the highest held-out mAP (ties to the stronger), then every class is refit on the
training and held-out rows, as :func:`norep.analysis.probes.select_probe` does with
accuracy.

Example:
    >>> ap = average_precision_11point(np.array([0.9, 0.8, 0.7]), np.array([1, 0, 1]))
    >>> round(ap * 11, 6)  # 6 thresholds at precision 1 (recall 1/2), 5 at 2/3 (recall 1)
    9.333333
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from norep.analysis.probes import L2_GRID, LinearProbe, standardization, train_probe

THRESHOLDS = 11
"""Recall thresholds 0, 0.1, ..., 1 of the 11-point AP."""


def average_precision_11point(scores: np.ndarray, labels: np.ndarray, ignore: np.ndarray | None = None,
                              weights: np.ndarray | None = None) -> float | np.ndarray:
    """Pascal VOC 2007's 11-point average precision of one class (module docstring).

    Args:
        scores: Shape (N,): higher means more likely positive.
        labels: Shape (N,): 1 for a positive, 0 for a negative.
        ignore: Shape (N,), bool: examples left out (VOC's difficult ones). None: none.
        weights: Multiplicities of the examples, shape (N,) or (B, N) (B bootstrap resamples).

    Returns:
        The AP (NaN without positives); shape (B,) for weights of shape (B, N).

    Example:
        >>> average_precision_11point(np.array([3, 2, 1]), np.array([0, 1, 1]), np.array([1, 0, 0], bool))
        1.0
    """
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    order = np.argsort(-scores, kind="stable")
    kept = np.ones(len(scores), bool) if ignore is None else ~np.asarray(ignore, bool)
    weights = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=np.float64)
    weights = weights[..., order]
    true_positives = np.cumsum(weights * ((labels == 1) & kept)[order], axis=-1)
    false_positives = np.cumsum(weights * ((labels != 1) & kept)[order], axis=-1)
    positives = true_positives[..., -1:]
    retrieved = true_positives + false_positives
    precision = np.divide(true_positives, retrieved, out=np.zeros_like(retrieved), where=retrieved > 0)
    best_from = np.maximum.accumulate(precision[..., ::-1], axis=-1)[..., ::-1]  # max precision from k on
    total = np.zeros(positives.shape[:-1])
    for k in range(THRESHOLDS):  # recall grows with k: the ranks reaching t are a suffix
        reached = (THRESHOLDS - 1) * true_positives >= k * positives
        first = np.argmax(reached, axis=-1)
        total += np.where(reached.any(axis=-1), np.take_along_axis(best_from, first[..., None], -1)[..., 0], 0.0)
    average = np.where(positives[..., 0] > 0, total / THRESHOLDS, np.nan)
    return float(average) if average.ndim == 0 else average


def class_average_precisions(scores: np.ndarray, labels: np.ndarray, ignore: np.ndarray | None = None,
                             weights: np.ndarray | None = None) -> np.ndarray:
    """The 11-point AP of every class (:func:`average_precision_11point`).

    Args:
        scores: Shape (N, C).
        labels: Shape (N, C), 0/1.
        ignore: Shape (N, C), bool, or None.
        weights: Shape (N,) or (B, N), or None.

    Returns:
        Shape (C,), or (B, C) for weights of shape (B, N).
    """
    return np.stack([average_precision_11point(scores[:, c], labels[:, c], None if ignore is None else ignore[:, c],
                                               weights) for c in range(labels.shape[1])], axis=-1)


def mean_average_precision(scores: np.ndarray, labels: np.ndarray, ignore: np.ndarray | None = None,
                           weights: np.ndarray | None = None) -> float | np.ndarray:
    """The mean 11-point AP over the classes with positives (NaN when none has any).

    Args:
        scores: Shape (N, C).
        labels: Shape (N, C), 0/1.
        ignore: Shape (N, C), bool, or None.
        weights: Shape (N,) or (B, N), or None.

    Returns:
        The mAP; shape (B,) for weights of shape (B, N).

    Example:
        >>> mean_average_precision(np.array([[2.0, 0.0], [1.0, 1.0]]), np.array([[1, 0], [0, 1]]))
        1.0
    """
    per_class = class_average_precisions(scores, labels, ignore, weights)
    defined = ~np.isnan(per_class)
    count = defined.sum(axis=-1)
    mean = np.where(count > 0, np.where(defined, per_class, 0.0).sum(axis=-1) / np.maximum(count, 1), np.nan)
    return float(mean) if mean.ndim == 0 else mean


def one_vs_rest_probes(features: np.ndarray, labels: np.ndarray, l2: float, device: str = "cpu",
                       init: list[LinearProbe] | None = None) -> list[LinearProbe]:
    """Fit one binary probe per class (a 2-class :func:`~norep.analysis.probes.train_probe`).

    Args:
        features: Training rows, shape (M, D).
        labels: Shape (M, C), 0/1.
        l2: The penalty of every probe.
        device: The torch device of the fits.
        init: Probes per class on the same features to start from (warm starts).

    Returns:
        C probes, in class order.
    """
    return [train_probe(features, labels[:, c], l2, 2, device, init=None if init is None else init[c])
            for c in range(labels.shape[1])]


def one_vs_rest_scores(probes: list[LinearProbe], features: np.ndarray) -> np.ndarray:
    """Each class's score (its probe's positive minus negative logit), shape (N, C), float32."""
    return np.stack([np.diff(probe.logits(features), axis=1)[:, 0] for probe in probes], axis=1).astype(np.float32)


def select_one_vs_rest(features: np.ndarray, labels: np.ndarray, held_features: np.ndarray,
                       held_labels: np.ndarray, held_ignore: np.ndarray | None = None,
                       grid: tuple[float, ...] = L2_GRID,
                       device: str = "cpu") -> tuple[list[LinearProbe], pd.DataFrame]:
    """Choose one penalty for all classes by held-out mAP, then refit every class on both splits.

    Args:
        features: Training rows, shape (M, D).
        labels: Their labels, shape (M, C), 0/1.
        held_features: Held-out rows, shape (H, D), for the choice only.
        held_labels: Their labels, shape (H, C).
        held_ignore: Shape (H, C), bool: held-out labels left out of the mAP, or None.
        grid: Penalties to try.
        device: The torch device of the fits.

    Returns:
        The C probes refitted on training and held-out rows with the chosen penalty, and
        one row per penalty: l2 and held_out_map.
    """
    penalties = sorted(grid, reverse=True)  # strong to weak: each fit starts from the last
    fits, maps = [], []
    for l2 in penalties:
        fits.append(one_vs_rest_probes(features, labels, l2, device, init=fits[-1] if fits else None))
        maps.append(mean_average_precision(one_vs_rest_scores(fits[-1], held_features), held_labels, held_ignore))
    best = int(np.argmax(np.nan_to_num(maps, nan=-1.0)))  # first maximum: the strongest
    rows = np.concatenate([features, held_features])
    mean, scale = standardization(rows)
    refit = one_vs_rest_probes(rows, np.concatenate([labels, held_labels]), penalties[best], device,
                               init=[probe.restandardized(mean, scale) for probe in fits[best]])
    table = pd.DataFrame({"l2": penalties, "held_out_map": maps})
    return refit, table.sort_values("l2").reset_index(drop=True)
