r"""The one reader of a store: aligned per-example arrays of many models on one split.

Every analysis in :mod:`norep.analysis` takes plain arrays; this module is where they
come from, for trained, imported and inferred stores alike. Rows of every array are
the store's examples of the split, in store order; a zoo's arrays stack one model per
row (or per leading index).

- :func:`read_outcomes`: top-1 predictions, confidences, correctness and where a model
  answered (imported models may miss answers: prediction -1, confidence NaN);
- :func:`read_scores`: what each model contributes to an ensemble, temperature-scaled
  probabilities :math:`\mathrm{softmax}(z / T)` (or scaled logits :math:`z / T`), as a
  :class:`Scores` that computes them from the memory-mapped logits when they are read;
- :func:`read_embeddings`: a model's penultimate features.

Memory stays bounded on ImageNet-sized zoos (100 models x 50,000 examples x 1,000
classes is 20 GB of logits): logits are read one model and one block of examples at a
time, and what every analysis needs of them (top-1 predictions and confidences, the
top-1 of scaled scores) is computed once per model and cached in the store
(:meth:`Store.derived`). Every derived number is computed by the same numpy operations,
row by row, as on the whole array, so it is the same number. A float16 store's logits
are read through :class:`norep.store.store.Float16Logits` on every path (blocks, rows
through the map, scattered rows by offset): float32 with each row's top classes exact.

Example:
    >>> outcomes = read_outcomes(Store("runs/fashion_mnist"), "test")   # doctest: +SKIP
    >>> outcomes.correct.mean(axis=1)                                   # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from norep.errors import NorepError
from norep.store.store import Float16Logits, Store, row_blocks

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
    with T = 1 when ``temperature`` is None; both are computed once per model and
    temperature, a block of examples at a time, and cached in the store. Missing answers of imported models are -1
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
        temperature = float(temperature or 1.0)
        cached = store.derived(model_id, "top1", {"temperature": temperature},
                               lambda: _top1_of_logits(store.array(model_id, "logits"), temperature))
        rows = store.rows(split)
        return cached["predictions"][rows], cached["confidences"][rows]
    if temperature is not None:
        raise NorepError(f"model {model_id} has only top-1 confidences, which a temperature cannot "
                         "rescale; leave it out of temperatures")
    predictions = np.asarray(store.array(model_id, "predictions", split))
    if not store.has_array(model_id, "confidences"):
        return predictions, np.full(predictions.shape, np.nan)
    confidences = np.asarray(store.array(model_id, "confidences", split), dtype=np.float64)
    return predictions, np.where(predictions >= 0, confidences, np.nan)


def _top1_of_logits(logits: np.ndarray, temperature: float) -> dict[str, np.ndarray]:
    """Argmax and largest float64 probability of softmax(z / T) of every row, a block at a time.

    The largest probability is that of the largest logit, exp(0) / sum = 1 / sum: the
    same float :func:`softmax` gives, without dividing the other classes.
    """
    predictions = np.empty(len(logits), dtype=np.intp)
    confidences = np.empty(len(logits), dtype=np.float64)
    for block in row_blocks(len(logits), logits.shape[1]):
        chunk = np.asarray(logits[block])
        predictions[block] = chunk.argmax(axis=1)
        scaled = np.asarray(chunk, dtype=np.float64) / np.float64(temperature)
        scaled -= scaled.max(axis=1, keepdims=True)
        np.exp(scaled, out=scaled)
        confidences[block] = 1.0 / scaled.sum(axis=1)
    return {"predictions": predictions, "confidences": confidences}


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


class Scores:
    """Models' ensemble scores on one split, computed from the memory-mapped logits when read.

    It stands for the (N, M, C) float32 array of every model's scores (what
    :func:`scaled_scores` gives for each model's logits on the split) without holding
    it: ``scores[i]`` is one model's (M, C) scores, ``scores[[i, j]]`` or ``scores[1:]``
    a :class:`Scores` of those models, ``np.asarray(scores)`` the whole array (N x M x
    C x 4 bytes), ``scores.argmax(axis=2)`` every model's top-1 class (cached in the
    store). :mod:`norep.analysis.ensembles` reads it a block of examples at a time.

    Attributes:
        store: The prediction store.
        model_ids: The models, one per leading index.
        split: The split.
        temperatures: Temperature per model id (1 where absent).
        rule: One of :data:`RULES`.
    """

    dtype = np.dtype(np.float32)
    ndim = 3

    def __init__(self, store: Store, model_ids: list[str], split: str | None = "test",
                 temperatures: dict[str, float] | None = None, rule: str = "probabilities"):
        if rule not in RULES:
            raise ValueError(f"unknown ensemble rule {rule!r}; use one of {RULES}")
        for model_id in model_ids:
            store.logits(model_id)  # a top-1-only or unknown model is an error now
        self.store, self.model_ids, self.split, self.rule = store, list(model_ids), split, rule
        self.temperatures = {m: float((temperatures or {}).get(m, 1.0)) for m in self.model_ids}
        self.rows = store.rows(split)
        self.labels = store.labels(split)
        self._row_files: dict[str, _RowFile] = {}

    @property
    def shape(self) -> tuple[int, int, int]:
        """(N, M, C)."""
        return len(self.model_ids), len(self.rows), len(self.store.classes)

    def __len__(self) -> int:
        return len(self.model_ids)

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self.member(i) for i in range(len(self)))

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return self.member(int(key))
        if isinstance(key, slice):
            return self._subset(range(len(self))[key])
        if isinstance(key, (list, np.ndarray)) and np.ndim(key) == 1:
            return self._subset(np.arange(len(self))[np.asarray(key, dtype=int)].tolist())
        return np.asarray(self)[key]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        stacked = np.empty(self.shape, dtype=np.float32)
        for index in range(len(self)):
            stacked[index] = self.member(index)
        return stacked if dtype is None else stacked.astype(dtype)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(np.asarray(self), name)  # any other array method, on the whole array

    def _subset(self, indices) -> "Scores":
        return Scores(self.store, [self.model_ids[i] for i in indices], self.split, self.temperatures, self.rule)

    def member(self, index: int, examples: np.ndarray | None = None) -> np.ndarray:
        """Return one model's scores, shape (M, C), or only on ``examples`` (indices into
        the split: a few rows are read from the file alone, without mapping it)."""
        model_id = self.model_ids[index]
        if examples is None or len(examples) > len(self.rows) // 64:  # many rows: read through the map
            rows = self.rows if examples is None else self.rows[np.asarray(examples, dtype=np.intp)]
            logits = self.store.array(model_id, "logits")
        else:
            rows = np.arange(len(examples))
            logits = self._row_file(model_id).read(self.rows[np.asarray(examples, dtype=np.intp)])
        scores = np.empty((len(rows), logits.shape[1]), dtype=np.float32)
        for block in row_blocks(len(rows), logits.shape[1]):
            scores[block] = scaled_scores(logits[rows[block]], self.temperatures[model_id], self.rule)
        return scores

    def _row_file(self, model_id: str) -> "_RowFile":
        if model_id not in self._row_files:
            self._row_files[model_id] = _RowFile(self.store.array(model_id, "logits"))
        return self._row_files[model_id]

    def blocks(self, index: int) -> Iterator[tuple[slice, np.ndarray]]:
        """Yield one model's scores a block of examples at a time: (examples, scores)."""
        model_id = self.model_ids[index]
        logits = self.store.array(model_id, "logits")
        for block in row_blocks(len(self.rows), logits.shape[1]):
            yield block, scaled_scores(logits[self.rows[block]], self.temperatures[model_id], self.rule)

    def derived(self, index: int, name: str, key: dict, compute) -> dict[str, np.ndarray]:
        """Arrays derived from one model's scores, cached in the store (:meth:`Store.derived`)."""
        model_id = self.model_ids[index]
        return self.store.derived(model_id, name, {**key, "split": self.split, "rule": self.rule,
                                                   "temperature": self.temperatures[model_id]}, compute)

    def argmax(self, axis: int = -1) -> np.ndarray:
        """Every model's top-1 class per example, shape (N, M); only over classes (axis 2)."""
        if axis not in (2, -1):
            raise ValueError("Scores.argmax is over classes only (axis=2)")
        def compute(index: int) -> dict[str, np.ndarray]:
            top = np.empty(len(self.rows), dtype=np.intp)
            for block, scores in self.blocks(index):
                top[block] = scores.argmax(axis=1)
            return {"argmax": top}
        return np.stack([self.derived(i, "argmax", {}, lambda i=i: compute(i))["argmax"]
                         for i in range(len(self))]).reshape(len(self), len(self.rows))


class _RowFile:
    """Reads rows of a (verified) .npy array by offset, without mapping the file: the
    pages a few scattered rows touch do not stay in the process's memory. A float16
    store's rows get their exact top logits (:meth:`Float16Logits.overlay`)."""

    def __init__(self, logits: np.memmap | Float16Logits):
        self.logits = logits
        mapped = logits.half if isinstance(logits, Float16Logits) else logits
        self.file = open(mapped.filename, "rb")  # noqa: SIM115 - kept open while the Scores lives
        self.offset, self.shape, self.dtype = mapped.offset, mapped.shape, mapped.dtype
        self.row_bytes = int(np.prod(self.shape[1:])) * self.dtype.itemsize

    def read(self, rows: np.ndarray) -> np.ndarray:
        """The rows, in the order given, shape (len(rows),) + shape[1:]."""
        out = np.empty((len(rows),) + self.shape[1:], dtype=self.dtype)
        buffer, size = memoryview(out).cast("B"), self.row_bytes
        for position, row in enumerate(rows.tolist()):
            os.preadv(self.file.fileno(), [buffer[position * size:(position + 1) * size]], self.offset + row * size)
        return self.logits.overlay(out, rows) if isinstance(self.logits, Float16Logits) else out


def read_scores(store: Store, model_ids: list[str], split: str | None = "test",
                temperatures: dict[str, float] | None = None, rule: str = "probabilities") -> Scores:
    """The models' ensemble scores on a split, shape (N, M, C), float32, read when used.

    Args:
        store: The prediction store.
        model_ids: The models; each needs logits (a top-1-only model raises a NorepError).
        split: The split.
        temperatures: Temperature per model id; 1 where absent.
        rule: One of :data:`RULES`.

    Returns:
        A :class:`Scores`: ``np.asarray`` of it is the stacked array (N * M * C * 4
        bytes); the ensembles of :mod:`norep.analysis.ensembles` read it a model and a
        block of examples at a time.
    """
    return Scores(store, model_ids, split, temperatures, rule)


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
