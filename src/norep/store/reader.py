r"""The one reader of a store: aligned per-example arrays of many models on one split.

Every analysis in :mod:`norep.analysis` takes plain arrays; this module is where they
come from, for trained, imported and inferred stores alike. Rows of every array are
the store's examples of the split, in store order; a zoo's arrays stack one model per
row (or per leading index).

- :func:`read_outcomes`: top-1 predictions, confidences, correctness and where a model
  answered (imported models may miss answers: prediction -1, confidence NaN);
- :func:`read_scores`: what each model contributes to an ensemble, temperature-scaled
  probabilities :math:`\mathrm{softmax}(z / T)` (or scaled logits :math:`z / T`);
- :func:`read_embeddings`: a model's penultimate features.

Example:
    >>> outcomes = read_outcomes(Store("runs/fashion_mnist"), "test")   # doctest: +SKIP
    >>> outcomes.correct.mean(axis=1)                                   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from norep.errors import NorepError
from norep.store.store import Store

RULES = ("probabilities", "logits")
"""What a model contributes to an ensemble: temperature-scaled probabilities or logits."""


def softmax(logits: np.ndarray, temperature: float = 1.0, dtype: type = np.float32) -> np.ndarray:
    """Return softmax(logits / temperature) along the last axis.

    Args:
        logits: Shape (..., C).
        temperature: T > 0.
        dtype: The floating type of the computation and the result.

    Returns:
        Probabilities of the same shape.
    """
    scaled = np.asarray(logits, dtype=dtype) / dtype(temperature)
    scaled -= scaled.max(axis=-1, keepdims=True)
    np.exp(scaled, out=scaled)
    scaled /= scaled.sum(axis=-1, keepdims=True)
    return scaled


def scaled_scores(logits: np.ndarray, temperature: float = 1.0, rule: str = "probabilities") -> np.ndarray:
    """Return what a model contributes to an ensemble: softmax(z / T) or z / T, as float32.

    Args:
        logits: Shape (M, C).
        temperature: The model's temperature.
        rule: One of :data:`RULES`.

    Returns:
        Scores of shape (M, C).
    """
    if rule not in RULES:
        raise ValueError(f"unknown ensemble rule {rule!r}; use one of {RULES}")
    if rule == "probabilities":
        return softmax(logits, temperature)
    return np.asarray(logits, dtype=np.float32) / np.float32(temperature)


def top1(store: Store, model_id: str, split: str | None = None,
         temperature: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return a model's top-1 predictions and confidences on a split.

    For logits, the confidence is the largest probability of softmax(z / T) (float64),
    with T = 1 when ``temperature`` is None. Missing answers of imported models are -1
    with confidence NaN; so are all confidences of models that record decisions only
    (e.g. human observers).

    Args:
        store: The prediction store.
        model_id: The model.
        split: The split; every example when None.
        temperature: Temperature to scale the logits with; needs logits.

    Returns:
        Predictions (int, shape (M,)) and confidences (float64, shape (M,)).
    """
    if store.has_array(model_id, "logits"):
        logits = store.array(model_id, "logits", split)
        return logits.argmax(axis=1), softmax(logits, temperature or 1.0, np.float64).max(axis=1)
    if temperature is not None:
        raise NorepError(f"model {model_id} has only top-1 confidences, which a temperature cannot "
                         "rescale; leave it out of temperatures")
    predictions = np.asarray(store.array(model_id, "predictions", split))
    if not store.has_array(model_id, "confidences"):
        return predictions, np.full(predictions.shape, np.nan)
    confidences = np.asarray(store.array(model_id, "confidences", split), dtype=np.float64)
    return predictions, np.where(predictions >= 0, confidences, np.nan)


@dataclass(frozen=True)
class Outcomes:
    """Top-1 outcomes of a zoo on one split, columns aligned with ``example_ids``.

    Attributes:
        model_ids: The models, one row each.
        example_ids: The split's example ids, one column each.
        labels: True labels, shape (M,).
        predictions: Top-1 labels, shape (N, M); -1 where a model gave no answer.
        confidences: Top-1 confidences, NaN where no answer.
        correct: ``predictions == labels`` (False where no answer).
        valid: Where the model answered.
    """

    model_ids: list[str]
    example_ids: np.ndarray
    labels: np.ndarray
    predictions: np.ndarray
    confidences: np.ndarray
    correct: np.ndarray
    valid: np.ndarray

    @property
    def accuracy(self) -> np.ndarray:
        """Each model's accuracy on the examples it answered, shape (N,)."""
        return self.correct.sum(axis=1) / np.maximum(self.valid.sum(axis=1), 1)

    def index(self, model_id: str) -> int:
        """Return the row of a model."""
        return self.model_ids.index(model_id)


def read_outcomes(store: Store, split: str | None = "test", model_ids: list[str] | None = None,
                  temperatures: dict[str, float] | None = None) -> Outcomes:
    """Read the top-1 outcomes of models of a store (logits or top-1-only alike).

    Args:
        store: The prediction store.
        split: The split, e.g. ``"test"``; every example when None.
        model_ids: Models to read, in this order; all of the store's by default.
        temperatures: Temperature per model id to scale its confidences with; T = 1
            for the others.

    Returns:
        The outcomes, with a validity mask for missing answers.
    """
    model_ids = list(store.model_ids if model_ids is None else model_ids)
    labels = store.labels(split)
    read = [top1(store, m, split, (temperatures or {}).get(m)) for m in model_ids]
    predictions = np.stack([p for p, _ in read]).reshape(len(model_ids), len(labels))
    confidences = np.stack([c for _, c in read]).reshape(len(model_ids), len(labels))
    valid = predictions >= 0
    return Outcomes(
        model_ids=model_ids,
        example_ids=store.examples["example_id"].to_numpy()[store.rows(split)],
        labels=labels,
        predictions=predictions,
        confidences=confidences,
        correct=(predictions == labels[None, :]) & valid,
        valid=valid,
    )


def read_scores(store: Store, model_ids: list[str], split: str | None = "test",
                temperatures: dict[str, float] | None = None, rule: str = "probabilities") -> np.ndarray:
    """Stack the models' ensemble scores on a split, shape (N, M, C), float32.

    Args:
        store: The prediction store.
        model_ids: The models; each needs logits (a top-1-only model raises a NorepError).
        split: The split.
        temperatures: Temperature per model id; 1 where absent.
        rule: One of :data:`RULES`.

    Returns:
        The stacked scores (N * M * C * 4 bytes of memory).
    """
    temperatures = temperatures or {}
    first = store.logits(model_ids[0], split)
    stacked = np.empty((len(model_ids),) + first.shape, dtype=np.float32)
    for row, model_id in enumerate(model_ids):
        stacked[row] = scaled_scores(store.logits(model_id, split), temperatures.get(model_id, 1.0), rule)
    return stacked


def read_embeddings(store: Store, model_id: str, split: str | None = None) -> np.ndarray:
    """Return a model's penultimate embeddings on a split, shape (M, D), float32.

    Args:
        store: The prediction store.
        model_id: The model; it needs stored embeddings.
        split: The split; every example when None.

    Returns:
        The embeddings, in memory.
    """
    if not store.has_array(model_id, "embeddings"):
        store.meta(model_id)  # an unknown model is an error naming the store's models
        raise NorepError(f"model {model_id} has no embeddings in {store.path}; "
                         "only networks whose features were stored have them")
    return np.asarray(store.array(model_id, "embeddings", split), dtype=np.float32)
