"""Pairwise agreement metrics over whole zoos, with paired bootstrap intervals.

Every metric of a pair of models (a, b) is a function of five counts over the examples
that **both** models answered (imported models may miss answers: such examples are
left out pair by pair, so each pair has its own ``n``):

- ``n``: examples both models answered;
- ``both_right`` (RR), ``right_wrong`` (RW: a right, b wrong), ``wrong_right`` (WR);
- ``same_wrong`` (SW): both wrong with the same top-1 label;
- ``both_wrong`` WW = n - RR - RW - WR.

With the accuracies on the pair's examples p_a = (RR + RW) / n and p_b = (RR + WR) / n:

- accuracy: p_a (of the row model; the matrix's transpose holds p_b);
- error inconsistency: (RW + WR) / n, the share of examples exactly one model gets right;
- error consistency kappa (Geirhos et al. 2020): c_obs = (RR + WW) / n,
  c_exp = p_a p_b + (1 - p_a)(1 - p_b), kappa = (c_obs - c_exp) / (1 - c_exp).
  When c_exp = 1 (both models always right, or both always wrong) kappa is undefined
  and set to NaN, as scikit-learn's ``cohen_kappa_score`` does;
- disagreement: 1 - (RR + SW) / n, the share of examples with different top-1 labels;
- double fault: WW / n; either right (the oracle of the pair): 1 - WW / n;
- Yule's Q: (RR WW - RW WR) / (RR WW + RW WR), NaN when the denominator is 0.

All N x N counts come at once from exact integer products of 0/1 matrices (no loop over
pairs): RR = R R^T with R[i, m] = model i right on example m, and so on; the same-wrong
counts from one column per (example, wrong label) that several models share (groups of
a few models are counted pair by pair instead). :func:`zoo_correctness` reads the
inputs from a store, logit models and top-1-only models alike.

Intervals come from the paired bootstrap over examples: each bootstrap sample redraws
the examples with replacement, the same draw for both models of a pair and for every
pair, so differences between pairs have intervals too (from ``samples``).

Example:
    >>> correct = np.array([[1, 1, 0, 0], [1, 0, 1, 0]], dtype=bool)
    >>> float(pair_metrics(correct)["error_inconsistency"][0, 1])
    0.5
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from norep.store import Store

PAIR_METRICS = (
    "accuracy", "error_inconsistency", "kappa", "disagreement", "double_fault",
    "either_right", "yules_q",
)
"""Names of the pair metrics that :func:`pair_metrics` and :func:`bootstrap_pairs` compute."""

_EXACT_BLOCK = 1 << 30  # examples per int32-accumulated product: counts cannot overflow
_KEY_BUDGET = 1 << 22  # (example, label) keys per block of the same-wrong computation
_BOOT_CHUNK = 50  # bootstrap samples drawn at once
_CELL_BUDGET = 1 << 24  # per-example pair indicators held at once (pairs are chunked)


@dataclass(frozen=True)
class PairCounts:
    """The counts of pairs (any array shape, e.g. N x N or bootstrap x pairs).

    Every metric in :data:`PAIR_METRICS` is a property; ``same_wrong`` is None when no
    predictions were given, and then ``disagreement`` raises a ValueError.
    """

    n: np.ndarray
    both_right: np.ndarray
    right_wrong: np.ndarray
    wrong_right: np.ndarray
    same_wrong: np.ndarray | None = None

    def _share(self, count: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return count / self.n

    @property
    def both_wrong(self) -> np.ndarray:
        """WW = n - RR - RW - WR."""
        return self.n - self.both_right - self.right_wrong - self.wrong_right

    @property
    def accuracy(self) -> np.ndarray:
        """Accuracy of model a on the pair's examples."""
        return self._share(self.both_right + self.right_wrong)

    @property
    def accuracy_b(self) -> np.ndarray:
        """Accuracy of model b on the pair's examples."""
        return self._share(self.both_right + self.wrong_right)

    @property
    def error_inconsistency(self) -> np.ndarray:
        """Share of examples exactly one model gets right."""
        return self._share(self.right_wrong + self.wrong_right)

    @property
    def kappa(self) -> np.ndarray:
        """Error consistency kappa; NaN where c_exp = 1."""
        p_a, p_b = self.accuracy, self.accuracy_b
        expected = p_a * p_b + (1 - p_a) * (1 - p_b)
        observed = 1 - self.error_inconsistency
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(expected < 1, (observed - expected) / (1 - expected), np.nan)

    @property
    def disagreement(self) -> np.ndarray:
        """Share of examples with different top-1 labels."""
        if self.same_wrong is None:
            raise ValueError("disagreement needs the models' predictions, not only correctness")
        return 1 - self._share(self.both_right + self.same_wrong)

    @property
    def double_fault(self) -> np.ndarray:
        """Share of examples both models get wrong."""
        return self._share(self.both_wrong)

    @property
    def either_right(self) -> np.ndarray:
        """Share of examples at least one model gets right (the pair's oracle)."""
        return 1 - self.double_fault

    @property
    def yules_q(self) -> np.ndarray:
        """Yule's Q of the two correctness indicators; NaN where it is 0/0."""
        concordant = self.both_right * self.both_wrong
        discordant = self.right_wrong * self.wrong_right
        with np.errstate(invalid="ignore", divide="ignore"):
            return (concordant - discordant) / (concordant + discordant)


@dataclass(frozen=True)
class ZooCorrectness:
    """Top-1 outcomes of a zoo on one split, rows aligned with ``example_ids``.

    Attributes:
        model_ids: The models, one row each.
        example_ids: The split's example ids, one column each.
        labels: True labels, shape (M,).
        predictions: Top-1 labels, shape (N, M); -1 where a model gave no answer.
        confidences: Top-1 confidences (softmax at temperature 1 for logits), NaN where
            no answer.
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
        return self.correct.sum(axis=1) / self.valid.sum(axis=1)


def zoo_correctness(store: Store, split: str = "test", model_ids: list[str] | None = None) -> ZooCorrectness:
    """Read the top-1 outcomes of models of a store (logits or top-1-only alike).

    Args:
        store: The prediction store.
        split: The split, e.g. ``"test"``.
        model_ids: Models to read, in this order; all of the store's by default.

    Returns:
        The outcomes, with a validity mask for missing answers.

    Example:
        >>> zc = zoo_correctness(Store("runs/fashion_mnist"))      # doctest: +SKIP
        >>> pair_metrics(zc.correct, zc.predictions, zc.valid)     # doctest: +SKIP
    """
    model_ids = list(store.model_ids if model_ids is None else model_ids)
    labels = store.labels(split)
    top1 = [store.top1(model_id, split) for model_id in model_ids]
    predictions = np.stack([p for p, _ in top1]).reshape(len(model_ids), len(labels))
    confidences = np.stack([c for _, c in top1]).reshape(len(model_ids), len(labels))
    valid = predictions >= 0
    return ZooCorrectness(
        model_ids=model_ids,
        example_ids=store.examples["example_id"].to_numpy()[store.rows(split)],
        labels=labels,
        predictions=predictions,
        confidences=confidences,
        correct=(predictions == labels[None, :]) & valid,
        valid=valid,
    )


def pair_counts(correct: np.ndarray, predictions: np.ndarray | None = None,
                valid: np.ndarray | None = None) -> PairCounts:
    """Count RR, RW, WR, SW and n for every pair of models at once.

    Args:
        correct: Top-1 correctness, shape (N, M).
        predictions: Top-1 labels (int, -1 for no answer), shape (N, M); needed only for
            ``same_wrong`` (hence disagreement).
        valid: Where each model answered, shape (N, M); by default where
            ``predictions >= 0``, or everywhere without predictions.

    Returns:
        N x N integer counts; entry (i, j) describes the pair (model i, model j).

    Example:
        >>> counts = pair_counts(np.array([[1, 1, 0], [1, 0, 0]], dtype=bool))
        >>> counts.right_wrong.tolist()
        [[0, 1], [0, 0]]
    """
    correct, predictions, valid = _check(correct, predictions, valid)
    right = correct & valid if valid is not None else correct
    both_right = _gram(right, right)
    if valid is None:
        n = np.full_like(both_right, correct.shape[1])
        right_answered = np.repeat(right.sum(axis=1)[:, None], len(right), axis=1)
    else:
        n = _gram(valid, valid)
        right_answered = _gram(right, valid)
    wrong = ~correct if valid is None else valid & ~correct
    return PairCounts(
        n=n,
        both_right=both_right,
        right_wrong=right_answered - both_right,
        wrong_right=right_answered.T - both_right,
        same_wrong=None if predictions is None else _same_wrong(predictions, wrong),
    )


def pair_metrics(correct: np.ndarray, predictions: np.ndarray | None = None,
                 valid: np.ndarray | None = None, metrics: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Return N x N matrices of pair metrics (formulas in the module docstring).

    Args:
        correct: Top-1 correctness, shape (N, M).
        predictions: Top-1 labels, shape (N, M); needed for ``disagreement``.
        valid: Where each model answered; all answered when None.
        metrics: Names from :data:`PAIR_METRICS`; by default all of them, without
            ``disagreement`` when no predictions are given.

    Returns:
        One N x N float matrix per metric name.

    Example:
        >>> zc = zoo_correctness(store)                                  # doctest: +SKIP
        >>> pair_metrics(zc.correct, zc.predictions, zc.valid)["kappa"]  # doctest: +SKIP
    """
    counts = pair_counts(correct, predictions, valid)
    return {name: getattr(counts, name) for name in _metric_names(metrics, predictions)}


def all_pairs(n_models: int) -> np.ndarray:
    """Return the index pairs (i, j), i < j, of ``n_models`` models, shape (P, 2)."""
    return np.stack(np.triu_indices(n_models, 1), axis=1)


def bootstrap_sums(values: np.ndarray, n_boot: int = 1000, seed: int = 0,
                   groups: np.ndarray | None = None) -> np.ndarray:
    """Column sums of ``values`` over bootstrap resamples of its rows, optionally per group.

    The resamples depend only on ``seed``, ``n_boot`` and the number of rows, so two
    calls with the same arguments resample the same examples (a paired bootstrap).

    Args:
        values: Shape (M, K): one row per example.
        n_boot: Number of bootstrap samples B.
        seed: Seed of the resampling.
        groups: Optional group code per row, shape (M,); every code in 0..G-1 must occur.

    Returns:
        Shape (B, K), or (B, G, K) with groups: sample b holds sum_m w_bm values[m]
        (over the rows of each group), w_b the multiplicities of a draw of M rows with
        replacement.
    """
    values = np.asarray(values, dtype=np.float64)
    n_examples = len(values)
    if groups is not None:
        order = np.argsort(groups, kind="stable")
        n_groups = int(groups.max(initial=-1)) + 1
        starts = np.searchsorted(groups[order], np.arange(n_groups))
    rng = np.random.default_rng(seed)
    sums = np.empty((n_boot, values.shape[1]) if groups is None else (n_boot, n_groups, values.shape[1]))
    for start in range(0, n_boot, _BOOT_CHUNK):
        size = min(_BOOT_CHUNK, n_boot - start)
        draws = rng.integers(0, n_examples, size=(size, n_examples))
        draws += n_examples * np.arange(size)[:, None]
        weights = np.bincount(draws.ravel(), minlength=size * n_examples).reshape(size, n_examples)
        if groups is None:
            sums[start:start + size] = weights.astype(np.float64) @ values
        else:
            weighted = weights[:, order, None] * values[order][None]
            sums[start:start + size] = np.add.reduceat(weighted, starts, axis=1)
    return sums


@dataclass(frozen=True)
class Interval:
    """A point estimate with a percentile bootstrap interval.

    Attributes:
        estimate: The value on all examples.
        low: Lower end of the interval.
        high: Upper end of the interval.
        samples: The bootstrap values, shape (B, *estimate.shape).
    """

    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    samples: np.ndarray


def percentile_interval(estimate: np.ndarray, samples: np.ndarray, level: float = 0.95) -> Interval:
    """Return the percentile interval of bootstrap ``samples`` (NaN samples ignored).

    Args:
        estimate: The value on all examples.
        samples: Bootstrap values, shape (B, ...).
        level: Coverage of the interval, e.g. 0.95.

    Returns:
        The interval.
    """
    tail = (1 - level) / 2
    with warnings.catch_warnings():  # a metric undefined in every sample stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanquantile(samples, [tail, 1 - tail], axis=0)
    return Interval(np.asarray(estimate), low, high, samples)


def bootstrap_pair_counts(correct: np.ndarray, predictions: np.ndarray | None = None,
                          valid: np.ndarray | None = None, pairs: np.ndarray | None = None,
                          n_boot: int = 1000, seed: int = 0) -> tuple[PairCounts, PairCounts]:
    """Return the counts of some pairs on all examples and on bootstrap resamples.

    Args:
        correct: Top-1 correctness, shape (N, M).
        predictions: Top-1 labels, shape (N, M), for ``same_wrong``.
        valid: Where each model answered; all answered when None.
        pairs: Model index pairs, shape (P, 2); all pairs i < j by default.
        n_boot: Number of bootstrap samples B.
        seed: Seed of the resampling.

    Returns:
        The counts on all examples (shape (P,)) and per bootstrap sample (shape (B, P)).
    """
    correct, predictions, valid = _check(correct, predictions, valid)
    pairs = all_pairs(len(correct)) if pairs is None else np.asarray(pairs, dtype=int).reshape(-1, 2)
    n_cells = 4 if predictions is None else 5
    chunk = max(1, _CELL_BUDGET // (n_cells * correct.shape[1]))
    full, boot = [], []
    for start in range(0, len(pairs), chunk):  # every chunk sees the same resamples
        values = _cells(correct, predictions, valid, pairs[start:start + chunk])
        full.append(values.sum(axis=0).reshape(n_cells, -1))
        boot.append(bootstrap_sums(values, n_boot, seed).reshape(n_boot, n_cells, -1))
    return PairCounts(*np.concatenate(full, axis=1)), PairCounts(*np.concatenate(boot, axis=2).transpose(1, 0, 2))


def _cells(correct: np.ndarray, predictions: np.ndarray | None, valid: np.ndarray | None,
           pairs: np.ndarray) -> np.ndarray:
    """Per-example indicators of n, RR, RW, WR (and SW) of each pair, shape (M, cells * P)."""
    a, b = pairs[:, 0], pairs[:, 1]
    answered = np.ones((len(pairs), correct.shape[1]), bool) if valid is None else valid[a] & valid[b]
    right_a, right_b = correct[a] & answered, correct[b] & answered
    cells = [answered, right_a & right_b, right_a & ~right_b, ~right_a & right_b]
    if predictions is not None:
        cells.append(answered & ~right_a & ~right_b & (predictions[a] == predictions[b]))
    return np.concatenate(cells).T


def bootstrap_pairs(correct: np.ndarray, predictions: np.ndarray | None = None,
                    valid: np.ndarray | None = None, pairs: np.ndarray | None = None,
                    metrics: tuple[str, ...] | None = None, n_boot: int = 1000,
                    level: float = 0.95, seed: int = 0) -> dict[str, Interval]:
    """Paired bootstrap intervals of pair metrics.

    Args:
        correct: Top-1 correctness, shape (N, M).
        predictions: Top-1 labels, shape (N, M); needed for ``disagreement``.
        valid: Where each model answered; all answered when None.
        pairs: Model index pairs, shape (P, 2); all pairs i < j by default.
        metrics: Names from :data:`PAIR_METRICS` (default as in :func:`pair_metrics`).
        n_boot: Number of bootstrap samples.
        level: Coverage of the intervals.
        seed: Seed of the resampling.

    Returns:
        One :class:`Interval` per metric, each over the P pairs.

    Example:
        >>> ci = bootstrap_pairs(correct, pairs=[(0, 1)], metrics=("kappa",))  # doctest: +SKIP
        >>> ci["kappa"].low, ci["kappa"].high                                   # doctest: +SKIP
    """
    full, boot = bootstrap_pair_counts(correct, predictions, valid, pairs, n_boot, seed)
    return {
        name: percentile_interval(getattr(full, name), getattr(boot, name), level)
        for name in _metric_names(metrics, predictions)
    }


def _metric_names(metrics: tuple[str, ...] | None, predictions: np.ndarray | None) -> tuple[str, ...]:
    """Return the requested metric names, by default all that ``predictions`` allow."""
    if metrics is None:
        return tuple(m for m in PAIR_METRICS if predictions is not None or m != "disagreement")
    unknown = set(metrics) - set(PAIR_METRICS)
    if unknown:
        raise ValueError(f"unknown pair metric(s) {sorted(unknown)}; use {PAIR_METRICS}")
    return tuple(metrics)


def _check(correct: np.ndarray, predictions: np.ndarray | None,
           valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Check that the arrays are aligned; validity defaults to answered predictions and
    is None when every model answered every example."""
    correct = np.asarray(correct, dtype=bool)
    if correct.ndim != 2:
        raise ValueError(f"correctness must have shape (models, examples), got {correct.shape}")
    for name, array in (("predictions", predictions), ("valid", valid)):
        if array is not None and np.shape(array) != correct.shape:
            raise ValueError(f"{name} has shape {np.shape(array)}, correctness {correct.shape}: "
                             "rows must be the same models, columns the same examples")
    if predictions is not None:
        predictions = np.asarray(predictions)
        valid = predictions >= 0 if valid is None else valid
    valid = None if valid is None or np.all(valid) else np.asarray(valid, dtype=bool)
    return correct, predictions, valid


def _gram(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Return left @ right.T for 0/1 matrices, exactly, as int64.

    numpy has no integer matrix product; torch's int8 x int8 -> int32 product is exact
    and several times faster than a float32 one.
    """
    total = np.zeros((len(left), len(right)), dtype=np.int64)
    for start in range(0, left.shape[1], _EXACT_BLOCK):
        block = slice(start, start + _EXACT_BLOCK)
        total += torch._int_mm(_int8(left[:, block]), _int8(right[:, block]).T).numpy()
    return total


def _int8(matrix: np.ndarray) -> torch.Tensor:
    matrix = np.ascontiguousarray(matrix)
    return torch.from_numpy(matrix.view(np.int8) if matrix.dtype == bool else matrix.astype(np.int8, copy=False))


def _same_wrong(predictions: np.ndarray, wrong: np.ndarray) -> np.ndarray:
    """Count, for every pair, the examples both get wrong with the same label.

    Each group of k >= 2 models that give the same wrong label to one example adds 1 to
    the k x k pairs of those models: by an integer matrix product over one column per
    group when k is large (cost N**2 per column), by counting the k**2 pairs directly
    when k is small.
    """
    n_models, n_examples = predictions.shape
    n_labels = int(predictions.max(initial=0)) + 1
    block = max(1, _KEY_BUDGET // n_labels)
    few = max(2, n_models // 25)  # groups of at most this many models: count pairs directly
    scratch = np.empty(block * n_labels, dtype=np.int32)
    total = np.zeros((n_models, n_models), dtype=np.int64)
    for start in range(0, n_examples, block):
        entry = np.flatnonzero(wrong[:, start:start + block].T)  # example-major (example, model)
        model = entry % n_models
        labels = predictions[:, start:start + block].T.ravel()[entry]
        group, size = _groups(entry // n_models * n_labels + labels, scratch)
        sharing = size[group]
        many = sharing > few
        column = np.cumsum(size > few) - 1
        onehot = np.zeros((n_models, int(column[-1]) + 1 if len(column) else 0), dtype=np.int8)
        onehot.ravel()[model[many] * onehot.shape[1] + column[group[many]]] = 1
        total += _gram(onehot, onehot)
        light = (sharing >= 2) & ~many
        total += _small_groups(model[light], group[light], sharing[light], n_models)
    np.fill_diagonal(total, wrong.sum(axis=1))  # a model shares every wrong label with itself
    return total


def _groups(key: np.ndarray, scratch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Number the distinct keys 0..G-1 (first appearance first); return each entry's group
    and every group's size, in time linear in the entries (``scratch`` covers the keys)."""
    index = np.arange(len(key), dtype=np.int32)
    scratch[key] = index  # one representative entry per key: the last one written
    representative = scratch[key]
    first = representative == index
    group = (np.cumsum(first) - 1)[representative]
    return group, np.bincount(group)


def _small_groups(model: np.ndarray, group: np.ndarray, sharing: np.ndarray, n_models: int) -> np.ndarray:
    """Count the pairs of models within each group of entries."""
    order = np.argsort(group, kind="stable")
    model, sharing = model[order], sharing[order]
    pair_keys = [
        (members[:, :, None] * n_models + members[:, None, :]).ravel()
        for members in (model[sharing == k].reshape(-1, k) for k in np.unique(sharing))
    ]
    flat = np.concatenate(pair_keys) if pair_keys else np.empty(0, dtype=np.intp)
    return np.bincount(flat, minlength=n_models * n_models).reshape(n_models, n_models)
