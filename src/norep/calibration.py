r"""Temperature scaling and expected calibration error.

Temperature scaling (Guo et al. 2017) turns logits :math:`z` into probabilities
:math:`\mathrm{softmax}(z / T)` with one temperature :math:`T > 0` per model. :math:`T`
minimizes the mean negative log-likelihood of the labels :math:`y_m`,

.. math::

   \mathrm{NLL}(T) = \frac{1}{M} \sum_{m=1}^{M}
   \Big[ \log \sum_c e^{z_{mc} / T} - \frac{z_{m y_m}}{T} \Big],

on a held-out **calibration** split; it is never fitted on the test split. Scaling does
not change a model's top-1 predictions, only its confidences.

The expected calibration error with :math:`B` equal-width bins of top-1 confidence,
bin :math:`b` holding the confidences in :math:`(b / B, (b + 1) / B]` (a confidence of
0 falls in the first bin), is

.. math::

   \mathrm{ECE} = \sum_{b=0}^{B-1} \frac{n_b}{n}
   \big| \mathrm{accuracy}_b - \mathrm{confidence}_b \big|,

with :math:`n_b` the examples in bin :math:`b`, :math:`\mathrm{accuracy}_b` their
accuracy and :math:`\mathrm{confidence}_b` their mean confidence. It needs only top-1
confidences and correctness, so it is exact for models that only give a top-1 answer
with its confidence; temperature scaling needs full logits.

Example:
    >>> rng = np.random.default_rng(0)
    >>> labels = rng.integers(0, 3, 500)
    >>> logits = 5 * (rng.normal(size=(500, 3)) + np.eye(3)[labels])  # overconfident
    >>> fit_temperature(logits, labels) > 1
    True
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

from norep.store import Store

LOG_TEMPERATURE_BOUNDS = (np.log(1e-2), np.log(1e2))
"""Search interval of log T."""


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Return softmax(logits / temperature) along the last axis, as float32.

    Args:
        logits: Shape (..., C).
        temperature: T > 0.

    Returns:
        Probabilities of the same shape.
    """
    scaled = np.asarray(logits, dtype=np.float32) / np.float32(temperature)
    scaled -= scaled.max(axis=-1, keepdims=True)
    np.exp(scaled, out=scaled)
    scaled /= scaled.sum(axis=-1, keepdims=True)
    return scaled


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the labels under softmax(logits / temperature).

    Args:
        logits: Shape (M, C).
        labels: Shape (M,).
        temperature: T > 0.

    Returns:
        The mean NLL in nats.
    """
    log_p = log_softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)
    return float(-np.mean(log_p[np.arange(len(labels)), labels]))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Return the temperature that minimizes the NLL of ``labels`` (bounded search on log T).

    Args:
        logits: Calibration-split logits, shape (M, C).
        labels: Calibration-split labels, shape (M,).

    Returns:
        T in [0.01, 100].
    """
    logits = np.asarray(logits, dtype=np.float64)
    result = minimize_scalar(lambda log_t: nll(logits, labels, np.exp(log_t)),
                             bounds=LOG_TEMPERATURE_BOUNDS, method="bounded",
                             options={"xatol": 1e-5})
    return float(np.exp(result.x))


def expected_calibration_error(confidences: np.ndarray, correct: np.ndarray, n_bins: int = 15) -> float:
    """ECE of top-1 confidences with ``n_bins`` equal-width bins (formula in the module docstring).

    Args:
        confidences: Top-1 confidences in [0, 1], shape (M,).
        correct: Whether each top-1 answer is right, shape (M,).
        n_bins: Number of bins B.

    Returns:
        The ECE, in [0, 1].
    """
    confidences = np.asarray(confidences, dtype=np.float64)
    bins = np.clip(np.ceil(confidences * n_bins).astype(int) - 1, 0, n_bins - 1)
    size = np.bincount(bins, minlength=n_bins)
    gap = np.bincount(bins, weights=np.asarray(correct, dtype=np.float64) - confidences, minlength=n_bins)
    return float(np.abs(gap).sum() / size.sum())


def fit_temperatures(store: Store, model_ids: list[str] | None = None,
                     split: str = "calibration") -> dict[str, float]:
    """Fit one temperature per model on ``split`` of a store.

    Args:
        store: The prediction store.
        model_ids: Models to fit; all by default. Each needs logits (a top-1-only model
            raises a NorepError).
        split: The held-out split to fit on; never the test split.

    Returns:
        Temperature per model id.
    """
    labels = store.labels(split)
    return {m: fit_temperature(store.logits(m, split), labels)
            for m in (store.model_ids if model_ids is None else model_ids)}


def calibration_table(store: Store, model_ids: list[str] | None = None, fit_split: str = "calibration",
                      eval_split: str = "test", n_bins: int = 15) -> pd.DataFrame:
    """NLL and ECE on ``eval_split`` before and after temperature scaling, per model.

    Top-1-only models get their ECE before scaling (exact from their confidences) and
    NaN where scaling would need logits.

    Args:
        store: The prediction store.
        model_ids: Models to report; all by default.
        fit_split: Split the temperatures are fitted on.
        eval_split: Split the numbers are reported on.
        n_bins: Bins of the ECE.

    Returns:
        One row per model: model_id, temperature, nll_before, nll_after, ece_before,
        ece_after.
    """
    labels = store.labels(eval_split)
    rows = []
    for model_id in store.model_ids if model_ids is None else model_ids:
        predictions, confidences = store.top1(model_id, eval_split)
        answered = predictions >= 0
        row = {"model_id": model_id, "ece_before": expected_calibration_error(
            confidences[answered], predictions[answered] == labels[answered], n_bins)}
        if store.has_array(model_id, "logits"):
            temperature = fit_temperatures(store, [model_id], fit_split)[model_id]
            logits = store.logits(model_id, eval_split)
            scaled = softmax(logits, temperature).max(axis=1)
            row.update(temperature=temperature, nll_before=nll(logits, labels),
                       nll_after=nll(logits, labels, temperature),
                       ece_after=expected_calibration_error(scaled, predictions == labels, n_bins))
        rows.append(row)
    columns = ["model_id", "temperature", "nll_before", "nll_after", "ece_before", "ece_after"]
    return pd.DataFrame(rows).reindex(columns=columns)
