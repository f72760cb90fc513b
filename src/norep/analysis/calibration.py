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
from scipy.optimize import minimize_scalar

from norep.runtime import resolve_device
from norep.store.store import row_blocks

LOG_TEMPERATURE_BOUNDS = (np.log(1e-2), np.log(1e2))
"""Search interval of log T."""

def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the labels under softmax(logits / temperature).

    Args:
        logits: Shape (M, C).
        labels: Shape (M,).
        temperature: T > 0.

    Returns:
        The mean NLL in nats.
    """
    labels = np.asarray(labels)
    log_p = np.concatenate([  # a block of rows at a time: bounded float64 copies
        _FixedNLL(logits[block], labels[block]).label_log_probabilities(temperature)
        for block in row_blocks(max(1, len(labels)), np.shape(logits)[1])])
    return float(-np.mean(log_p))


def fit_temperature(logits: np.ndarray, labels: np.ndarray, device: str | None = "cpu") -> float:
    """Return the temperature that minimizes the NLL of ``labels`` (bounded search on log T).

    Args:
        logits: Calibration-split logits, shape (M, C).
        labels: Calibration-split labels, shape (M,).
        device: Where the NLL is evaluated: "cpu" (numpy, the default), "cuda" or
            "auto" (a GPU when there is one); any other torch device (e.g. "cpu:0") runs
            the torch path there. Both evaluate it in float64; the GPU's exponentials
            may differ in the last bit, so T agrees to about 1e-9.

    Returns:
        T in [0.01, 100].
    """
    resolved = "cpu" if device in (None, "cpu") else resolve_device(device)
    objective = _FixedNLL(logits, labels) if resolved == "cpu" else _TorchNLL(logits, labels, resolved)
    result = minimize_scalar(lambda log_t: objective(np.exp(log_t)), bounds=LOG_TEMPERATURE_BOUNDS,
                             method="bounded", options={"xatol": 1e-5})
    return float(np.exp(result.x))


class _TorchNLL:
    """:func:`nll` of fixed logits and labels as a function of T, in float64 with torch on a device."""

    def __init__(self, logits: np.ndarray, labels: np.ndarray, device: str):
        import torch

        self.logits = torch.as_tensor(np.asarray(logits, dtype=np.float64), device=device)
        self.maximum = self.logits.max(dim=1).values
        self.label_logit = self.logits[torch.arange(len(labels)), torch.as_tensor(np.asarray(labels))]

    def __call__(self, temperature: float) -> float:
        shift = self.maximum / float(temperature)
        log_sum = (self.logits / float(temperature) - shift[:, None]).exp().sum(dim=1).log()
        return float(-((self.label_logit / float(temperature) - shift) - log_sum).mean())


class _FixedNLL:
    """:func:`nll` of fixed logits and labels as a function of T, the same floats, faster.

    The row maxima are found once (division by T > 0 is monotone, so max(z / T) is
    max(z) / T exactly), the work is done in one reused buffer, and only the labels'
    log-probabilities are formed; every other operation is the one scipy's
    ``log_softmax`` does, element by element and row by row.
    """

    def __init__(self, logits: np.ndarray, labels: np.ndarray):
        self.logits = np.asarray(logits, dtype=np.float64)
        self.maximum = self.logits.max(axis=1)
        self.label_logit = self.logits[np.arange(len(labels)), labels]
        self.buffer = np.empty_like(self.logits)

    def label_log_probabilities(self, temperature: float) -> np.ndarray:
        """log softmax(z / T) of each row's label, shape (M,)."""
        shift = self.maximum / temperature
        np.divide(self.logits, temperature, out=self.buffer)
        self.buffer -= shift[:, None]
        np.exp(self.buffer, out=self.buffer)
        return (self.label_logit / temperature - shift) - np.log(self.buffer.sum(axis=1))

    def __call__(self, temperature: float) -> float:
        return float(-np.mean(self.label_log_probabilities(temperature)))


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
